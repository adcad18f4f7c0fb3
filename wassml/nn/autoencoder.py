"""The DEC / VaDE auto-encoder ``D-500-500-2000-d`` and its mirror decoder."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


class AutoEncoder(nn.Module):
  """Fully connected auto-encoder (Xie et al. 2016; used by WAMiC and VaDE).

  Attributes:
    input_dim: ``D``, the flattened input size.
    latent_dim: ``d``, the code size (10 for images, 1 for three moons in WAMiC).
    hidden: encoder widths; the decoder mirrors them (``d-2000-500-500-D``).
    output_activation: ``None`` (linear reconstruction) or ``'sigmoid'`` (inputs in [0, 1]).
  """

  input_dim: int
  latent_dim: int = 10
  hidden: Sequence[int] = (500, 500, 2000)
  output_activation: str | None = None

  def setup(self):
    self.encoder_layers = [nn.Dense(w, name=f"enc_{i}") for i, w in enumerate(self.hidden)]
    self.code = nn.Dense(self.latent_dim, name="code")
    self.decoder_layers = [nn.Dense(w, name=f"dec_{i}")
                           for i, w in enumerate(reversed(self.hidden))]
    self.reconstruction = nn.Dense(self.input_dim, name="reconstruction")

  def encode(self, x: jax.Array) -> jax.Array:
    """``x [B, ...]`` (flattened to ``[B, D]``) -> codes ``z [B, d]``."""
    h = jnp.reshape(x, (x.shape[0], -1))
    if h.shape[-1] != self.input_dim:
      raise ValueError(f"AutoEncoder expects {self.input_dim} input features, got {h.shape[-1]}.")
    for layer in self.encoder_layers:
      h = nn.relu(layer(h))
    return self.code(h)

  def decode(self, z: jax.Array) -> jax.Array:
    """``z [B, d]`` -> reconstructions ``[B, D]``."""
    h = z
    for layer in self.decoder_layers:
      h = nn.relu(layer(h))
    out = self.reconstruction(h)
    if self.output_activation == "sigmoid":
      out = nn.sigmoid(out)
    elif self.output_activation is not None:
      raise ValueError(f"Unknown output_activation {self.output_activation!r}; "
                       "valid: None, 'sigmoid'.")
    return out

  def __call__(self, x: jax.Array, train: bool = False) -> tuple[jax.Array, jax.Array]:
    """Returns ``(z [B, d], reconstruction [B, D])``."""
    del train
    z = self.encode(x)
    return z, self.decode(z)
