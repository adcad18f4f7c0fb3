"""Shared defaults of the active-learning configs (each config file overrides what differs)."""

import ml_collections

ALL_STRATEGIES = ("random", "dfal", "coreset", "uncertainty", "bald", "dqbc", "egl", "ceal", "balnet", "wasserstein")


def base_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.dataset = "fashion_mnist"
  c.data_seed = 0
  c.pool_size = 0  # 0: the whole training split is the pool
  c.test_size = 0  # 0: the whole test split
  c.model = "lenet5"  # lenet5 | vgg8 | mlp
  c.mlp_hidden = (128,)
  c.vgg_widths = (64, 120, 128, 256, 256)
  c.vgg_dense = 4096
  c.strategies = ALL_STRATEGIES
  # per-strategy keyword settings (see wassml.active_learning.strategies)
  c.strategy_settings = ml_collections.ConfigDict({
      "dfal": {"add_adversarial": True, "max_iters": 10},
      "bald": {"num_samples": 10},
      "dqbc": {"num_members": 5, "rate": 0.5, "finetune_steps": 50},
      "ceal": {"threshold": 0.05, "decay": 0.0033, "max_pseudo": 1000},
      "balnet": {"preselect_factor": 1},
  })
  # candidate-set size per strategy (missing: the strategy's default; the thesis: 300 for DFAL)
  c.candidates = ml_collections.ConfigDict({"uncertainty": 5000, "ceal": 5000})
  c.schedule = (10, 20, 40, 80, 160, 320, 640, 1000)
  c.num_seeds = 3
  c.seed = 0
  c.epochs = 30
  c.batch_size = 32  # thesis: Adam, lr 1e-3, batch 32
  c.learning_rate = 1e-3
  c.min_steps = 200
  c.max_steps = 2000
  c.full_epochs = 10
  c.full_max_steps = 20000
  c.target_gap = 0.01  # full-data accuracy minus 1 point
  # a results.json of an earlier run with the same data / model / seeds whose full-data reference
  # is reused instead of retrained (e.g. to run the transfer part over finished loops)
  c.full_data_from = ""
  c.full_data = True  # False: no full-data reference here (curves merged into another run's summary)
  c.lenet_dense = (84, 10)  # Table A.2: Dense84-ReLU, Dense10-ReLU, Dropout .5, softmax
  c.progress = True
  c.parts = ml_collections.ConfigDict({"curves": True, "transfer": True, "benchmark": True, "prototypes": True})
  c.transfer = ml_collections.ConfigDict({"model": "vgg8", "strategies": ("dfal", "coreset", "random"),
                                          "epochs": 30, "max_steps": 3000})
  c.benchmark = ml_collections.ConfigDict({"labelled_sizes": (100, 1000), "num_unlabelled": 800, "num_queries": 10,
                                           "repeats": 3, "train_steps": 300})
  c.prototypes = ml_collections.ConfigDict({
      "toys": ("circle", "three_gaussians_ratio"), "num_points": 200, "k_max": 30, "num_iters": 10,
      "ipot_beta": 1.0, "sinkhorn_epsilon": 1e-3, "random_draws": 10, "feature_points": 300})
  return c
