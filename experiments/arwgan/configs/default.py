"""ARWGAN default config: the full Fashion-MNIST training set, longer WGAN-GP training."""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.dataset = "fashion_mnist"
  c.num_train = 60000
  c.num_test = 10000
  c.seed = 0
  c.target_class = 6  # "shirt": the class a classifier confuses most (with T-shirt, pullover, coat)
  # Classifier attacked (only its outputs are used).
  c.classifier_hidden = (256,)
  c.classifier_epochs = 5
  c.classifier_batch_size = 128
  c.classifier_lr = 1e-3
  # WGAN-GP.
  c.weightings = ("uniform", "hard", "soft")
  c.soft_temperature = 1.0
  c.latent_dim = 32
  c.generator_hidden = (256, 512)
  c.critic_hidden = (512, 256)
  c.gan_steps = 5000
  c.n_critic = 5
  c.gan_batch_size = 64
  c.gan_lr = 1e-4
  c.gp_weight = 10.0
  c.num_eval = 1000
  # Training loop (wassml.train.train_loop): the weightings' WGANs train as seeds.
  c.execution = "auto"       # "host" on CPU, "scan" on GPU/TPU (same numbers)
  c.checkpoint_every = 500   # steps; checkpoints in <workdir>/checkpoints/{classifier,wgan}
  c.log_every = 20           # final_w1_estimate: the mean W1 estimate of the last period
  return c
