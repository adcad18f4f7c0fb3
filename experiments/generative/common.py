"""What the generative pipelines share: the 2-D targets and the fitting step of every loss.

:mod:`experiments.generative.train` (2-D fits), :mod:`experiments.generative.fmnist` and
:mod:`experiments.generative.sweep` import this module (and ``train`` imports the other two), so
there is no import cycle between them.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from wassml import data as wdata
from wassml import nn as wnn
from wassml.generative import fitting, losses, wgan


def load_target(name: str, split: str, num: int, seed: int) -> np.ndarray:
  """A standardised 2-D target: ``'moons'`` or ``'gmm'`` (a 2-D Gaussian mixture)."""
  if name == "moons":
    ds = wdata.load("moons", split, n_per_class=num // 2, noise=0.05, seed=seed)
  elif name == "gmm":
    ds = wdata.load("blobs", split, n_per_class=num // 4, num_classes=4, cluster_std=0.6,
                    seed=seed)
  else:
    raise ValueError(f"Unknown 2-D target {name!r}; valid names: ['gmm', 'moons'].")
  # Standardise with statistics of the generating distribution (seeded train split).
  ref = wdata.load(*(("moons", "train") if name == "moons" else ("blobs", "train")),
                   **({"n_per_class": 1000, "noise": 0.05, "seed": seed} if name == "moons" else
                      {"n_per_class": 1000, "num_classes": 4, "cluster_std": 0.6, "seed": seed}))
  mean, std = ref.x.mean(0), ref.x.std(0)
  return ((ds.x - mean) / std).astype(np.float32)


def make_sampler(name: str, config: ml_collections.ConfigDict):
  """``sampler(rng, state, num) -> [num, d]`` for the state of loss ``name``."""
  if name == "wgan_gp":
    return lambda rng, state, num: wgan.generate(rng, state, num, config.noise_dim)
  return fitting.sample


def make_step(name: str, config: ml_collections.ConfigDict, *, generator: Any = None,
              data_dim: int = 2):
  """The fitting step of loss ``name`` (an OT loss, or ``'wgan_gp'``).

  Args:
    name: one of ``wassml.generative.losses.LOSSES`` or ``'wgan_gp'``.
    config: the experiment config (optimiser, loss and critic settings).
    generator: the generator module (default: ``wassml.nn.MLP(config.hidden)`` for 2-D data).
    data_dim: ``d``, the dimension of the (flat) data samples.

  Returns:
    ``(step, init, snapshot, batch_size)``: the pure step on a ``[batch_size, d]`` batch,
    ``init(rng) -> state``, ``snapshot(rng, state) -> samples`` and the data samples the step
    takes (``config.batch_size``, times ``config.critic_steps`` for WGAN-GP).
  """
  gen = wnn.MLP(hidden=tuple(config.hidden), num_outputs=data_dim) if generator is None \
      else generator
  sampler = make_sampler(name, config)
  snapshot = lambda rng, state: sampler(rng, state, config.num_heldout)
  if name == "wgan_gp":
    # The adversarial alternative through the same interface: a step on a [n_critic * B, d] batch.
    gan_step = wgan.make_wgan_step(latent_dim=config.noise_dim, n_critic=config.critic_steps,
                                   gp_weight=config.gp_weight)
    step = lambda state, batch, rng: gan_step(
        state, {"x": batch.reshape(config.critic_steps, -1, batch.shape[-1])}, rng)
    lr = config.get("wgan_learning_rate", config.learning_rate)
    init = lambda rng: wgan.create_gan_state(
        rng, gen, wnn.Critic(hidden=tuple(config.critic_hidden)), latent_dim=config.noise_dim,
        example_x=jnp.zeros((1, data_dim)), tx_generator=optax.adam(lr, 0.5, 0.9),
        tx_critic=optax.adam(lr, 0.5, 0.9))
    return step, init, snapshot, config.batch_size * config.critic_steps
  tx = optax.adam(config.learning_rate)
  loss_fn = losses.minibatch_loss(
      name, batch_size=config.minibatch_size, num_batches=config.num_minibatches,
      epsilon=config.epsilon, rho=config.rho, num_projections=config.num_projections)
  step = fitting.make_ot_fitting_step(loss_fn)
  init = lambda rng: fitting.create_generator_state(rng, gen, config.noise_dim, tx)
  return step, init, snapshot, config.batch_size
