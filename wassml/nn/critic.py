"""WGAN critic."""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


class Critic(nn.Module):
  """A 1-Lipschitz-by-penalty critic ``f: [B, ...] -> [B]`` (no batch norm: WGAN-GP).

  Attributes:
    hidden: widths of the hidden layers.
    activation: hidden activation (leaky ReLU by default).
  """

  hidden: Sequence[int] = (512, 512, 512)
  activation: Callable[[jax.Array], jax.Array] = nn.leaky_relu

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """``x [B, ...]`` -> scores ``[B]``."""
    del train
    h = jnp.reshape(x, (x.shape[0], -1))
    for w in self.hidden:
      h = self.activation(nn.Dense(w)(h))
    return nn.Dense(1)(h)[:, 0]
