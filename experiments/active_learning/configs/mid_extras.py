"""The mid-size run's benchmark (Table 4.3 form) and Wasserstein prototypes (ch. 9), as a separate process.

Same data and model as ``mid.py``; only the ``benchmark`` and ``prototypes`` parts run (the prototypes on
Fashion-MNIST use the penultimate features of a LeNet5 trained 200 steps on the 3000-example pool (one seed)).
"""

from experiments.active_learning.configs.mid import get_config as mid_config


def get_config():
  c = mid_config()
  c.parts.curves = False
  c.parts.transfer = False
  c.parts.benchmark = True
  c.parts.prototypes = True
  c.full_max_steps = 200  # only for the features of the prototype experiment
  c.num_seeds = 1
  return c
