"""Default config: full Fashion-MNIST with one class held out; synthetic importance check."""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.dataset = "fashion_mnist"
  c.num_train = 60000
  c.num_test = 10000
  c.held_out_class = 8  # "Bag": never seen in training, the out-of-distribution class
  c.seed = 0
  c.hidden = (512, 256)
  c.epochs = 20
  c.batch_size = 128
  c.learning_rate = 1e-3
  c.num_t = 8  # draws of t ~ U(0, 1) per example
  c.dropout_rate = 0.3
  c.mc_samples = 20
  c.num_top = 8
  # Feature importance. noise_std = 1.53 matches the informative features' variance
  # (sep^2/4 + std^2 = 2.34), so a per-feature variance ranking is at chance.
  c.fi = ml_collections.ConfigDict(dict(
      dim=20, num_informative=4, num_samples=1000, cluster_sep=3.0, cluster_std=0.3,
      noise_std=1.53, latent_dim=2, ae_hidden=(64,), ae_steps=2000, t=0.05, ascent_steps=30,
      ot_batch=256, fmnist_examples=5000, fmnist_latent=10, fmnist_ae_hidden=(256,),
      fmnist_ae_steps=2000, fmnist_ascent_steps=10, fmnist_weight_decay=1e-4))
  # wassml.train.train_loop: "auto" | "host" | "vmap" | "scan" (auto: host stepping on the CPU).
  c.execution = "auto"
  c.progress = True  # unused: train_loop's bars follow WASSML_PROGRESS
  return c
