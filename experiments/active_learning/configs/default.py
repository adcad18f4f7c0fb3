"""Paper scale (Ducoffe thesis ch. 4, Table A.2 setting, on Fashion-MNIST as the offline stand-in for MNIST).

Full 60k pool, 10k test, LeNet5, every strategy, 10 -> 1000 labels, 3 seeds; transfer to the full VGG8;
Table 4.3 benchmark at |L| = 100 and 1000, |U| = 800; prototypes with 200 points, K <= 30.
Hours of CPU: run it where there is an accelerator.
"""

from experiments.active_learning.configs.base import base_config


def get_config():
  return base_config()
