"""Quick config: 2-D targets, every OT loss, small theory figures (CI and the tour)."""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.targets = ("moons", "gmm")
  c.losses = ("exact", "sinkhorn", "unbalanced", "sinkhorn_divergence", "sliced", "wgan_gp")
  c.num_train = 2000
  c.num_heldout = 500
  c.num_steps = 300
  c.batch_size = 128          # data samples per step (m of the minibatch estimator)
  c.minibatch_size = 64       # m inside the step for exact/sinkhorn/unbalanced
  c.num_minibatches = 4       # k
  c.epsilon = 0.05
  c.rho = 1.0
  c.num_projections = 64
  c.learning_rate = 3e-3
  c.noise_dim = 2
  c.hidden = (128, 128)
  c.critic_hidden = (128, 128)
  c.critic_steps = 5
  c.gp_weight = 0.1
  c.num_snapshots = 5
  # Theory figures (small).
  c.theory = ml_collections.ConfigDict()
  c.theory.plan_n = 16
  c.theory.plan_batch_sizes = (2, 4, 8)
  c.theory.plan_num_batches = 2000
  c.theory.deviation_n = 60
  c.theory.deviation_batch_sizes = (5, 10, 20)
  c.theory.deviation_ks = (1, 4, 16, 64)
  c.theory.deviation_reference_batches = 1000
  c.theory.deviation_repeats = 10
  c.theory.bias_n = 32
  c.theory.bias_batch_sizes = (2, 4, 8, 16, 32)
  c.theory.connections_num_batches = 300
  # Fashion-MNIST part (off in quick).
  c.fashion_mnist = False
  c.sweep = False
  return c
