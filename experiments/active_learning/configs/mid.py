"""Mid-size run committed under results/mid (sized for a shared 2-core CPU, ~40 min).

Fashion-MNIST pool of 5000 (test 2000), LeNet5, every strategy, 10 -> 320 labels, 3 seeds, fewer
training steps than the paper; transfer to a narrow VGG8; benchmark at |L| = 100 and 1000.
"""

from experiments.active_learning.configs.base import base_config


def get_config():
  c = base_config()
  c.pool_size = 5000
  c.test_size = 2000
  c.schedule = (10, 20, 40, 80, 160, 320)
  c.epochs = 15
  c.min_steps = 150
  c.max_steps = 300
  c.full_epochs = 5
  c.full_max_steps = 800
  c.candidates = {"uncertainty": 2000, "ceal": 2000, "bald": 1000, "egl": 300, "coreset": 1000, "balnet": 300}
  c.strategy_settings.dqbc.finetune_steps = 30
  c.transfer.epochs = 15
  c.transfer.max_steps = 400
  c.vgg_widths = (16, 32, 32, 64, 64)
  c.vgg_dense = 256
  c.parts.benchmark = False  # in mid_extras.py (a second process)
  c.parts.prototypes = False
  c.benchmark.repeats = 3
  c.benchmark.train_steps = 150
  c.prototypes.num_points = 100
  c.prototypes.k_max = 12
  c.prototypes.random_draws = 10
  c.prototypes.feature_points = 150
  return c
