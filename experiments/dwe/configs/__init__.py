"""Configs of the DWE experiment: ``quick`` (CI, digits 8x8), ``fmnist_mid`` (committed run,
POT targets), ``fmnist`` (committed run, ``wassml.ot.emd`` targets), ``default`` (paper scale,
Fashion-MNIST)."""
