"""Supervised baseline, quick config (CI / tour, <= 75 s on 2 cores): a Fashion-MNIST subset."""

from experiments.supervised.configs import default


def get_config():
  c = default.get_config()
  c.max_train = 4000
  c.max_test = 1000
  c.num_val = 500
  c.epochs = 2
  c.batch_size = 100
  c.patience = 2
  return c
