"""Quick config of the OT-core tour (seconds)."""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.num_points = 60           # per cloud
  c.rotation_degrees = 50.0   # target = rotated source (the DA toy)
  c.epsilon = 0.05            # relative to the max of the cost (cost is normalised)
  c.rho = 0.1                 # unbalanced marginal weight (POT reg_m)
  c.batch_size = 12           # minibatch size m
  c.num_batches = 200         # k
  c.num_projections = 100
  return c
