"""Quick config: 2-D targets, every OT loss, small theory figures (CI and the tour)."""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.targets = ("moons", "gmm")
  c.losses = ("exact", "sinkhorn", "unbalanced", "sinkhorn_divergence", "sliced", "wgan_gp")
  c.num_train = 2000
  c.num_heldout = 500
  c.num_steps = 240
  c.batch_size = 96           # data samples per step
  c.minibatch_size = 48       # m inside the step for exact/sinkhorn/unbalanced
  c.num_minibatches = 2       # k
  c.epsilon = 0.05
  c.rho = 1.0
  c.num_projections = 64
  c.learning_rate = 3e-3
  c.noise_dim = 2
  c.hidden = (128, 128)
  c.critic_hidden = (128, 128)
  c.critic_steps = 5
  c.gp_weight = 0.1
  c.num_snapshots = 4
  # Theory figures (small).
  c.theory = ml_collections.ConfigDict()
  c.theory.plan_n = 16
  c.theory.plan_batch_sizes = (2, 4, 8)
  c.theory.plan_num_batches = 1000
  c.theory.deviation_n = 60
  c.theory.deviation_batch_sizes = (5, 10, 20)
  c.theory.deviation_ks = (1, 4, 16)
  c.theory.deviation_reference_batches = 500
  c.theory.deviation_repeats = 8
  c.theory.bias_n = 32
  c.theory.bias_batch_sizes = (2, 4, 8, 16, 32)
  c.theory.connections_num_batches = 200
  # The (m, k) sweep, seeds trained together by wassml.train.train_loop; off in quick.
  c.sweep = False
  c.sweep_cfg = ml_collections.ConfigDict()
  c.sweep_cfg.loss = "sinkhorn"
  c.sweep_cfg.target = "moons"
  c.sweep_cfg.batch_sizes = (16, 64, 256)
  c.sweep_cfg.num_batches = (1, 4, 16)
  c.sweep_cfg.num_seeds = 3
  c.sweep_cfg.num_steps = 500
  c.sweep_cfg.execution = "auto"      # "host" on CPU, "scan" on GPU/TPU (same numbers)
  c.sweep_cfg.checkpoint_every = 100  # steps; <workdir>/checkpoints/sweep/<loss>_m<m>_k<k>
  return c
