"""Deterministic batch iterators: plain shuffling and class-balanced (JUMBOT-style) sampling.

They yield numpy index arrays; index the dataset with them (``ds.x[idx]``). Both are fully
determined by the key, so a resumed run that rebuilds the iterator with the same key (and skips
the batches it already consumed, or uses ``fold_in(key, epoch)``) sees the same batches.
"""

from __future__ import annotations

from typing import Iterator

import jax
import numpy as np
from jax.typing import ArrayLike


def shuffle_batches(rng: jax.Array, n: int, batch_size: int, *,
                    drop_remainder: bool = True) -> Iterator[np.ndarray]:
  """One epoch of shuffled index batches.

  Args:
    rng: a ``jax.random.key``.
    n: number of examples.
    batch_size: examples per batch.
    drop_remainder: drop the last, smaller batch.

  Yields:
    ``[batch_size]`` int arrays (the last may be smaller when ``drop_remainder`` is False).
  """
  if batch_size <= 0 or n <= 0:
    raise ValueError(f"n and batch_size must be positive, got n={n}, batch_size={batch_size}.")
  if drop_remainder and batch_size > n:
    raise ValueError(f"batch_size {batch_size} > n {n} with drop_remainder: no batch to yield.")
  perm = np.asarray(jax.random.permutation(rng, n))
  stop = (n // batch_size) * batch_size if drop_remainder else n
  for i in range(0, stop, batch_size):
    yield perm[i:i + batch_size]


def epoch_indices(rng: jax.Array, n: int, batch_size: int) -> np.ndarray:
  """One epoch of shuffled index batches as one ``[n // batch_size, batch_size]`` array.

  The same batches as :func:`shuffle_batches` (with ``drop_remainder=True``), stacked: row ``j``
  is batch ``j`` of the epoch whose key is ``rng``.
  """
  return np.stack(list(shuffle_batches(rng, n, batch_size)))


def num_batches(n: int, batch_size: int, drop_remainder: bool = True) -> int:
  """Number of batches :func:`shuffle_batches` yields."""
  return n // batch_size if drop_remainder else -(-n // batch_size)


def balanced_batches(rng: jax.Array, y: ArrayLike, per_class: int, *,
                     num_batches: int | None = None) -> Iterator[np.ndarray]:
  """Class-balanced batches: ``per_class`` examples of every class in each batch.

  Within a class, examples are drawn without replacement from a shuffled order that is
  reshuffled (with a fresh key) whenever the class is exhausted, as in the JUMBOT digits code.

  Args:
    rng: a ``jax.random.key``.
    y: ``[N]`` int labels; every class in ``[0, max(y)]`` that appears is sampled.
    per_class: examples of each class per batch.
    num_batches: batches to yield; default ``N // (per_class * num_present_classes)``.

  Yields:
    ``[per_class * C]`` int index arrays, grouped by class in label order.
  """
  y = np.asarray(y)
  if per_class <= 0:
    raise ValueError(f"per_class must be positive, got {per_class}.")
  classes = np.unique(y)
  if len(classes) == 0:
    raise ValueError("balanced_batches needs at least one example.")
  pools = [np.nonzero(y == c)[0] for c in classes]
  if num_batches is None:
    num_batches = max(1, len(y) // (per_class * len(classes)))
  orders, pos, refills = [None] * len(classes), [0] * len(classes), [0] * len(classes)

  def refill(j):
    key = jax.random.fold_in(jax.random.fold_in(rng, j), refills[j])
    refills[j] += 1
    orders[j] = pools[j][np.asarray(jax.random.permutation(key, len(pools[j])))]
    pos[j] = 0

  for j in range(len(classes)):
    refill(j)
  for _ in range(num_batches):
    batch = []
    for j in range(len(classes)):
      take = []
      while len(take) < per_class:
        if pos[j] == len(orders[j]):
          refill(j)
        m = min(per_class - len(take), len(orders[j]) - pos[j])
        take.extend(orders[j][pos[j]:pos[j] + m])
        pos[j] += m
      batch.append(np.asarray(take))
    yield np.concatenate(batch)
