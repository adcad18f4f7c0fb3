"""Learning with noisy labels: CCE vs VAT vs WAR on Fashion-MNIST (issue 5, seed 004)."""
