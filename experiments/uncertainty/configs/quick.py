"""Quick config (CI): Fashion-MNIST subset, few epochs, small feature-importance runs."""

from experiments.uncertainty.configs import default


def get_config():
  c = default.get_config()
  c.num_train = 5000
  c.num_test = 2000
  c.hidden = (256,)
  c.epochs = 5
  c.mc_samples = 10
  c.fi.ae_steps = 800
  c.fi.ascent_steps = 10
  c.fi.ot_batch = 128
  c.fi.fmnist_examples = 1000
  c.fi.fmnist_ae_steps = 400
  c.fi.fmnist_ascent_steps = 3
  c.progress = False
  return c
