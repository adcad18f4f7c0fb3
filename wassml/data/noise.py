"""Seeded label-noise injection (symmetric and pair-flip)."""

from __future__ import annotations

import jax
import numpy as np
from jax.typing import ArrayLike

KINDS = ("symmetric", "pairflip")


def noise_transition_matrix(rate: float, num_classes: int, kind: str = "symmetric") -> np.ndarray:
  """The ``[K, K]`` matrix ``T[i, j] = P(noisy = j | clean = i)`` of :func:`add_label_noise`."""
  _check(rate, kind, num_classes)
  k = num_classes
  if kind == "symmetric":
    t = np.full((k, k), rate / (k - 1))
    np.fill_diagonal(t, 1.0 - rate)
  else:
    t = (1.0 - rate) * np.eye(k) + rate * np.roll(np.eye(k), 1, axis=1)
  return t


def _check(rate, kind, num_classes):
  if kind not in KINDS:
    raise ValueError(f"Unknown label-noise kind {kind!r}; valid kinds: {list(KINDS)}.")
  if not np.isscalar(rate) or not 0.0 <= float(rate) < 1.0:
    raise ValueError(f"Label-noise rate must be a number in [0, 1), got {rate!r}.")
  if int(num_classes) < 2:
    raise ValueError(f"num_classes must be >= 2, got {num_classes}.")


def add_label_noise(rng: jax.Array, y: ArrayLike, *, rate: float, kind: str = "symmetric",
                    num_classes: int) -> tuple[np.ndarray, float]:
  """Corrupts labels at a given rate.

  Each label is corrupted independently with probability ``rate``; a corrupted label becomes

  - ``symmetric``: a class drawn uniformly among the *other* ``K - 1`` classes;
  - ``pairflip`` (asymmetric): the next class, ``(y + 1) mod K``.

  Args:
    rng: a ``jax.random.key``.
    y: ``[N]`` int labels in ``[0, num_classes)``.
    rate: corruption probability in ``[0, 1)``.
    kind: ``'symmetric'`` or ``'pairflip'``.
    num_classes: ``K``.

  Returns:
    ``(y_noisy [N] int32, realised_rate)`` where ``realised_rate = mean(y_noisy != y)``.

  Raises:
    ValueError: rate outside [0, 1), unknown kind, or labels outside ``[0, K)``.
  """
  _check(rate, kind, num_classes)
  y = np.asarray(y)
  if y.ndim != 1:
    raise ValueError(f"y must be a vector [N], got shape {y.shape}.")
  if len(y) and (y.min() < 0 or y.max() >= num_classes):
    raise ValueError(f"labels must lie in [0, {num_classes}), got range [{y.min()}, {y.max()}].")
  k_flip, k_class = jax.random.split(rng)
  flip = np.asarray(jax.random.uniform(k_flip, y.shape)) < rate
  if kind == "symmetric":
    offset = np.asarray(jax.random.randint(k_class, y.shape, 1, num_classes))
  else:
    offset = np.ones_like(y)
  y_noisy = np.where(flip, (y + offset) % num_classes, y).astype(np.int32)
  realised = float(np.mean(y_noisy != y)) if len(y) else 0.0
  return y_noisy, realised
