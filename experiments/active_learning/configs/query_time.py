"""Table 4.3's form (query time of DFAL vs CORE-SET) alone, with the data, model and benchmark of ``mid_extras.py``.

Fashion-MNIST pool of 3000, LeNet5 trained 100 steps on |L| = 100 and 1000 random pool images, 10 queries from
800 candidates (and from their first 200 and 400, to show how the time scales with the number of candidates),
one first call (compilation included) and 2 timed calls per strategy.
"""

from experiments.active_learning.configs.mid_extras import get_config as mid_extras_config


def get_config():
  c = mid_extras_config()
  c.parts.prototypes = False
  c.benchmark.candidate_sizes = (200, 400, 800)
  return c
