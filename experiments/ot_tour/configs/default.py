"""Default config of the OT-core tour: bigger clouds, more minibatches."""

from experiments.ot_tour.configs import quick


def get_config():
  c = quick.get_config()
  c.num_points = 400
  c.batch_size = 50
  c.num_batches = 2000
  return c
