"""Image classifiers: LeNet5 and VGG8 (Ducoffe 2018, Tables A.2/A.3), the JUMBOT digits CNN and a
small CNN. All take ``x [B, H, W, C]``, return logits ``[B, num_classes]`` and, with
``return_features=True``, ``(logits, features)`` where ``features`` is the penultimate layer (the
input of the final linear classifier).
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from wassml.nn.conv import Conv


def _pool(x: jax.Array) -> jax.Array:
  """2x2 max pooling, stride 2, 'VALID' (``nn.max_pool(x, (2, 2), strides=(2, 2))``).

  Written as a reshape and a max: the forward is identical, and on XLA:CPU its gradient is
  cheaper than ``select_and_scatter``. ``python -m experiments.supervised.bench_pool`` times a
  training-gradient step of each CNN with both, side by side; at batch 1000 on the 2-core CPU
  (2026-11-22, shared with a test run) the flax/reshape ratio was 1.24x (LeNet5), 1.81x
  (SmallCNN) and 1.11x (DigitsCNN, dominated by its convolutions). At exact ties the gradient is
  shared between the tied inputs instead of going to one of them; both are valid subgradients.
  """
  b, h, w, c = x.shape
  x = x[:, : h // 2 * 2, : w // 2 * 2]
  return x.reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def _flatten(x):
  return jnp.reshape(x, (x.shape[0], -1))


class LeNet5(nn.Module):
  """LeNet5 variant of Ducoffe's thesis, Table A.2 (DFAL / active learning).

  Conv6(5x5)-ReLU, MaxPool 2, Dropout .25, Conv120(3x3)-ReLU, MaxPool 2, Dropout .25,
  Dense84-ReLU, Dense10-ReLU, Dropout .5, Dense ``num_classes`` (softmax in the loss). Convs are
  'VALID' (Keras default). Features: the Dense10-ReLU layer (after its dropout).
  """

  num_classes: int = 10
  conv: Sequence[int] = (6, 120)
  dense: Sequence[int] = (84, 10)
  dropout: Sequence[float] = (0.25, 0.25, 0.5)

  conv_impl: str = "auto"  # wassml.nn.conv: "auto" (fast on XLA:CPU) or "lax" (jvp-able)

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False, return_features: bool = False):
    d = lambda r: nn.Dropout(r, deterministic=not train)  # noqa: E731
    conv = lambda w, k: Conv(self.conv_impl, w, (k, k), padding="VALID")  # noqa: E731
    h = d(self.dropout[0])(_pool(nn.relu(conv(self.conv[0], 5)(x))))
    h = d(self.dropout[1])(_pool(nn.relu(conv(self.conv[1], 3)(h))))
    h = _flatten(h)
    for w in self.dense:
      h = nn.relu(nn.Dense(w)(h))
    feats = d(self.dropout[2])(h)
    logits = nn.Dense(self.num_classes)(feats)
    return (logits, feats) if return_features else logits


class VGG8(nn.Module):
  """VGG8 of Ducoffe's thesis, Table A.3.

  ZeroPad1-Conv64(3x3)-ReLU, MaxPool 2, Dropout .25, Conv120(3x3)-ReLU, ZeroPad1-Conv128-ReLU,
  ZeroPad1-Conv256-ReLU, ZeroPad1-Conv256-ReLU, MaxPool 2, Dropout .25, Dense4096-ReLU,
  Dropout .5, Dense ``num_classes``. Features: the Dense4096 layer (after dropout). ``widths``
  and ``dense`` make it smaller for tests.
  """

  num_classes: int = 10
  widths: Sequence[int] = (64, 120, 128, 256, 256)
  dense: int = 4096
  dropout: Sequence[float] = (0.25, 0.25, 0.5)

  conv_impl: str = "auto"  # wassml.nn.conv: "auto" (fast on XLA:CPU) or "lax" (jvp-able)

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False, return_features: bool = False):
    d = lambda r: nn.Dropout(r, deterministic=not train)  # noqa: E731
    w = self.widths
    h = nn.relu(Conv(self.conv_impl, w[0], (3, 3), padding=((1, 1), (1, 1)))(x))
    h = d(self.dropout[0])(_pool(h))
    h = nn.relu(Conv(self.conv_impl, w[1], (3, 3), padding="VALID")(h))
    for width in w[2:]:
      h = nn.relu(Conv(self.conv_impl, width, (3, 3), padding=((1, 1), (1, 1)))(h))
    h = d(self.dropout[1])(_pool(h))
    h = nn.relu(nn.Dense(self.dense)(_flatten(h)))
    feats = d(self.dropout[2])(h)
    logits = nn.Dense(self.num_classes)(feats)
    return (logits, feats) if return_features else logits


class DigitsCNN(nn.Module):
  """The JUMBOT digits feature extractor + linear classifier.

  Source: ``kilianFatras/JUMBOT``, ``digits/models.py`` (``Cnn_generator`` + ``Classifier2``):
  three blocks of two Conv3x3 (32, 64, 128 filters, 'SAME') each followed by BatchNorm + ReLU,
  a 2x2 max-pool after each block, then Dense128 with a sigmoid (the 128-d features) and a
  linear classifier. (The reference defines a Dropout2d it never applies; so do we not.)
  """

  num_classes: int = 10
  widths: Sequence[int] = (32, 64, 128)
  feature_dim: int = 128

  conv_impl: str = "auto"  # wassml.nn.conv: "auto" (fast on XLA:CPU) or "lax" (jvp-able)

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False, return_features: bool = False):
    h = x
    for w in self.widths:
      for _ in range(2):
        h = Conv(self.conv_impl, w, (3, 3), padding="SAME")(h)
        h = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9)(h))
      h = _pool(h)
    feats = nn.sigmoid(nn.Dense(self.feature_dim, name="features")(_flatten(h)))
    logits = nn.Dense(self.num_classes, name="classifier")(feats)
    return (logits, feats) if return_features else logits


class SmallCNN(nn.Module):
  """A small CNN (for noisy-label work and quick baselines).

  Conv32(3x3)-[BN]-ReLU, MaxPool 2, Conv64(3x3)-[BN]-ReLU, MaxPool 2, Dense128-ReLU (features),
  Dropout, Dense ``num_classes``.
  """

  num_classes: int = 10
  widths: Sequence[int] = (32, 64)
  feature_dim: int = 128
  dropout_rate: float = 0.0
  use_batchnorm: bool = False

  conv_impl: str = "auto"  # wassml.nn.conv: "auto" (fast on XLA:CPU) or "lax" (jvp-able)

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False, return_features: bool = False):
    h = x
    for w in self.widths:
      h = Conv(self.conv_impl, w, (3, 3), padding="SAME", use_bias=not self.use_batchnorm)(h)
      if self.use_batchnorm:
        h = nn.BatchNorm(use_running_average=not train, momentum=0.9)(h)
      h = _pool(nn.relu(h))
    feats = nn.relu(nn.Dense(self.feature_dim)(_flatten(h)))
    h = feats
    if self.dropout_rate:
      h = nn.Dropout(self.dropout_rate, deterministic=not train)(feats)
    logits = nn.Dense(self.num_classes)(h)
    return (logits, feats) if return_features else logits
