"""A domain-adaptation model: a feature extractor ``g`` + classifier ``f`` (+ DANN discriminator)."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from wassml.domain_adaptation.dann import gradient_reversal


class DomainDiscriminator(nn.Module):
  """DANN domain classifier on the embeddings: ``[n, d] -> [n]`` logits (source = 1)."""

  hidden: int = 64

  @nn.compact
  def __call__(self, features: jax.Array) -> jax.Array:
    h = nn.relu(nn.Dense(self.hidden)(features))
    h = nn.relu(nn.Dense(self.hidden)(h))
    return nn.Dense(1)(h)[:, 0]


class DAModel(nn.Module):
  """Wraps a ``wassml.nn`` classifier so that one call returns logits *and* embeddings.

  Attributes:
    backbone: a linen classifier whose ``__call__(x, train=..., return_features=True)`` returns
      ``(logits [n, K], features [n, d])`` (e.g. ``wassml.nn.DigitsCNN``, ``wassml.nn.MLP``).
    discriminator_hidden: width of the DANN discriminator; 0 builds none (every other method).
  """

  backbone: nn.Module
  discriminator_hidden: int = 0

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False, grl_scale: Any = 1.0):
    """Forward pass.

    Args:
      x: [n, ...] inputs.
      train: training mode (dropout/batch norm).
      grl_scale: gradient-reversal weight fed to the discriminator (DANN only).

    Returns:
      ``(logits [n, K], features [n, d], domain_logits [n] or None)``.
    """
    logits, features = self.backbone(x, train=train, return_features=True)
    domain_logits = None
    if self.discriminator_hidden:
      domain_logits = DomainDiscriminator(self.discriminator_hidden, name="discriminator")(
          gradient_reversal(features, jnp.asarray(grl_scale, features.dtype)))
    return logits, features, domain_logits
