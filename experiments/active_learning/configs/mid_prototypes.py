"""The prototype part of ``mid_extras.py`` alone (its benchmark is ``query_time.py``).

Wasserstein prototypes (ch. 9) on the two toys and on the penultimate features of a LeNet5 trained 200 steps
on the 3000-image Fashion-MNIST pool of ``mid.py`` (one seed).
"""

from experiments.active_learning.configs.mid_extras import get_config as mid_extras_config


def get_config():
  c = mid_extras_config()
  c.parts.benchmark = False
  return c
