"""Mid-size run committed under results/mid, sized for a 2-core CPU shared by ~8 engineers.

Fashion-MNIST pool of 3000 (test 1000), LeNet5 (Table A.2), 10 -> 160 labels, 3 seeds, short training
(50-100 Adam steps per round). On that CPU a LeNet5 step costs ~0.05 CPU-s per seed and each process got
~7% of a core, so the strategies are split over processes (``--config.strategies=...``, one workdir each),
the benchmark and prototypes run in ``mid_extras.py``; merge with
``python -m experiments.active_learning.summarize --workdir=<one> --merge=<other> ...``.
"""

from experiments.active_learning.configs.base import base_config


def get_config():
  c = base_config()
  c.pool_size = 3000
  c.test_size = 1000
  c.schedule = (10, 20, 40, 80, 160)
  c.strategies = ("random", "dfal", "coreset", "uncertainty", "bald", "dqbc")
  c.epochs = 20
  c.min_steps = 50
  c.max_steps = 100
  c.full_epochs = 5
  c.full_max_steps = 300
  c.candidates = {"uncertainty": 1000, "ceal": 1000, "bald": 500, "egl": 200, "coreset": 1000, "balnet": 300,
                  "wasserstein": 200}
  c.strategy_settings.dqbc.finetune_steps = 30
  c.strategy_settings.ceal.max_pseudo = 300
  c.transfer.epochs = 20
  c.transfer.max_steps = 100
  c.vgg_widths = (16, 32, 32, 64, 64)
  c.vgg_dense = 256
  c.parts.benchmark = False  # in mid_extras.py
  c.parts.prototypes = False
  c.benchmark.repeats = 2
  c.benchmark.train_steps = 100
  c.prototypes.num_points = 100
  c.prototypes.k_max = 12
  c.prototypes.random_draws = 10
  c.prototypes.feature_points = 150
  return c
