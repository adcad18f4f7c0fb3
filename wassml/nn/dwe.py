"""Deep Wasserstein Embedding encoder and decoder (Courty, Flamary & Ducoffe 2018; thesis A.2.4)."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from wassml.nn.conv import Conv


class DWEEncoder(nn.Module):
  """``phi``: Conv20(3x3)-ReLU, Conv5(5x5)-ReLU ('SAME'), Dense100-ReLU, Dense ``embed_dim``.

  ``x [B, H, W, 1]`` (histograms on the pixel grid) -> embeddings ``[B, embed_dim]``.
  """

  embed_dim: int = 50
  conv: Sequence[int] = (20, 5)
  hidden: int = 100

  conv_impl: str = "auto"  # wassml.nn.conv: "auto" (fast on XLA:CPU) or "lax" (jvp-able)

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    del train
    h = nn.relu(Conv(self.conv_impl, self.conv[0], (3, 3), padding="SAME")(x))
    h = nn.relu(Conv(self.conv_impl, self.conv[1], (5, 5), padding="SAME")(h))
    h = nn.relu(nn.Dense(self.hidden)(jnp.reshape(h, (h.shape[0], -1))))
    return nn.Dense(self.embed_dim)(h)


class DWEDecoder(nn.Module):
  """``psi``: Dense100-ReLU, Dense(5 H W)-ReLU reshaped to ``[H, W, 5]``, Conv20(5x5)-ReLU,
  Conv1(3x3), softmax over the pixels.

  ``z [B, embed_dim]`` -> ``[B, H, W, 1]`` with every image summing to 1.
  """

  image_shape: Sequence[int] = (28, 28)
  conv: Sequence[int] = (5, 20)
  hidden: int = 100

  conv_impl: str = "auto"  # wassml.nn.conv: "auto" (fast on XLA:CPU) or "lax" (jvp-able)

  @nn.compact
  def __call__(self, z: jax.Array, train: bool = False) -> jax.Array:
    del train
    hgt, wid = self.image_shape
    h = nn.relu(nn.Dense(self.hidden)(z))
    h = nn.relu(nn.Dense(self.conv[0] * hgt * wid)(h))
    h = jnp.reshape(h, (z.shape[0], hgt, wid, self.conv[0]))
    h = nn.relu(Conv(self.conv_impl, self.conv[1], (5, 5), padding="SAME")(h))
    h = Conv(self.conv_impl, 1, (3, 3), padding="SAME")(h)
    p = jax.nn.softmax(jnp.reshape(h, (z.shape[0], -1)), axis=-1)
    return jnp.reshape(p, (z.shape[0], hgt, wid, 1))
