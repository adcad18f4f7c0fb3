"""Mid-size config for a 2-core CPU (the committed results): full Fashion-MNIST minus the
held-out class, 10 epochs per model."""

from experiments.uncertainty.configs import default


def get_config():
  c = default.get_config()
  c.epochs = 10
  return c
