"""ARWGAN quick config (CI): a Fashion-MNIST subset and a few hundred generator steps."""

from experiments.arwgan.configs import default


def get_config():
  c = default.get_config()
  c.num_train = 4000
  c.num_test = 2000
  c.classifier_epochs = 3
  c.generator_hidden = (128,)
  c.critic_hidden = (128,)
  c.gan_steps = 200
  c.n_critic = 3
  c.gan_lr = 1e-3
  c.num_eval = 200
  c.checkpoint_every = 100
  return c
