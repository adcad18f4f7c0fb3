"""The (m, k) sweep of the default config alone, at a reduced size (~10 min on 2 shared cores).

Same data, generator, optimiser and loss as ``default.py``'s sweep (Sinkhorn minibatch loss on
moons, eps = 0.05, 3 seeds trained together per grid point); fewer steps (300 instead of 500), m in
(16, 32, 64) instead of (16, 64, 256), and n = 128 data samples per step inside which the k
minibatches of size m are drawn.
"""

from experiments.generative.configs import default


def get_config():
  c = default.get_config()
  c.experiment = "sweep"           # train.train_and_evaluate runs only sweep.run
  c.sweep = True
  c.sweep_cfg.batch_sizes = (16, 32, 64)
  c.sweep_cfg.num_batches = (1, 4, 16)
  c.sweep_cfg.num_seeds = 3
  c.sweep_cfg.num_steps = 300
  c.sweep_cfg.data_batch_size = 128  # n samples per step; k minibatches of size m inside them
  return c
