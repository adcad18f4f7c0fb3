"""Mid-size config for a 2-core CPU (the committed results): 20k training images, 600 generator
steps per weighting with small MLPs. ``default`` is the longer run for a GPU."""

from experiments.arwgan.configs import default


def get_config():
  c = default.get_config()
  c.num_train = 20000
  c.gan_steps = 600
  c.gan_lr = 1e-3
  c.generator_hidden = (256,)
  c.critic_hidden = (256,)
  c.num_eval = 500
  return c
