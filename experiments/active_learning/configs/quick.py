"""CI config (<= 75 s on 2 CPU cores): scikit-learn digits, an MLP, random vs DFAL, 2 seeds, a tiny prototype toy."""

from experiments.active_learning.configs.base import base_config


def get_config():
  c = base_config()
  c.dataset = "digits"
  c.model = "mlp"
  c.mlp_hidden = (64,)
  c.strategies = ("random", "dfal")
  c.schedule = (10, 20, 40, 80, 160)
  c.num_seeds = 2
  c.epochs = 20
  c.min_steps = 100
  c.max_steps = 200
  c.full_epochs = 10
  c.full_max_steps = 500
  c.progress = False
  c.parts.transfer = False
  c.parts.benchmark = False
  c.prototypes.toys = ("circle",)
  c.prototypes.num_points = 40
  c.prototypes.k_max = 5
  c.prototypes.random_draws = 5
  c.prototypes.feature_points = 0
  return c
