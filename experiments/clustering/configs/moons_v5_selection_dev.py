"""Model selection with ``configs/moons_v5.py``'s mixture on one development key (300): does the tied,
equal-proportion mixture let the held-out ``W_1`` pick K = 3? (``results/moons_v5_selection_dev``)
"""

from experiments.clustering.configs import moons_v4_selection


def get_config():
  c = moons_v4_selection.get_config()
  m = c.model
  m.gmm_covariance, m.gmm_equal_weights, m.train_proportions = "tied", True, False
  c.seed = 300
  c.num_seeds = 1
  c.model_selection.num_seeds = 1
  c.plots = False
  return c
