"""Multi-layer perceptron classifier / regressor."""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


class MLP(nn.Module):
  """Dense layers with optional batch norm and dropout.

  Attributes:
    hidden: widths of the hidden layers.
    num_outputs: output width (logits); None returns the last hidden layer.
    dropout_rate: dropout after each hidden activation (``train=True`` only, rng ``'dropout'``).
    use_batchnorm: batch norm before each hidden activation (stats in ``batch_stats``).
    activation: hidden activation.
  """

  hidden: Sequence[int] = (128, 128)
  num_outputs: int | None = 10
  dropout_rate: float = 0.0
  use_batchnorm: bool = False
  activation: Callable[[jax.Array], jax.Array] = nn.relu

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False, return_features: bool = False):
    """``x [B, ...]`` (flattened) -> logits ``[B, num_outputs]``.

    With ``return_features=True`` returns ``(logits, features [B, hidden[-1]])``.
    """
    h = jnp.reshape(x, (x.shape[0], -1))
    for width in self.hidden:
      h = nn.Dense(width, use_bias=not self.use_batchnorm)(h)
      if self.use_batchnorm:
        h = nn.BatchNorm(use_running_average=not train)(h)
      h = self.activation(h)
      if self.dropout_rate:
        h = nn.Dropout(self.dropout_rate, deterministic=not train)(h)
    feats = h
    if self.num_outputs is None:
      return feats
    out = nn.Dense(self.num_outputs)(feats)
    return (out, feats) if return_features else out
