"""Configs of the DWE experiment: ``quick`` (CI, digits 8x8), ``fmnist_mid`` (committed run),
``default`` (paper scale, Fashion-MNIST)."""
