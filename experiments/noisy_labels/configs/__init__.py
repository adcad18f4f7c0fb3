"""Configs of the noisy-labels experiment: ``quick`` (CI, <= 75 s), ``mid`` (2-core CPU, committed
results) and ``default`` (paper scale, GPU)."""
