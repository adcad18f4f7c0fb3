"""Default config: longer 2-D fits, bigger theory figures, and the (m, k) sweep."""

import ml_collections

from experiments.generative.configs import quick


def get_config() -> ml_collections.ConfigDict:
  c = quick.get_config()
  c.num_train = 5000
  c.num_heldout = 1000
  c.num_steps = 2000
  c.batch_size = 256
  c.minibatch_size = 128
  c.num_minibatches = 8
  c.theory.plan_n = 24
  c.theory.plan_batch_sizes = (2, 4, 8, 16)
  c.theory.plan_num_batches = 20000
  c.theory.deviation_n = 200
  c.theory.deviation_batch_sizes = (10, 20, 50)
  c.theory.deviation_ks = (1, 4, 16, 64, 256)
  c.theory.deviation_reference_batches = 8000
  c.theory.deviation_repeats = 30
  c.theory.bias_n = 128
  c.theory.bias_batch_sizes = (2, 4, 8, 16, 32, 64, 128)
  c.theory.connections_num_batches = 2000
  c.sweep = True
  return c
