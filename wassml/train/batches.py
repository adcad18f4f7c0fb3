"""The host epoch sampler: minibatches of in-memory arrays, reshuffled every epoch."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from wassml.data.sampling import epoch_indices

__all__ = ["EpochBatches", "epoch_indices"]


class EpochBatches:
  """``batch_fn`` for :func:`wassml.train.train_loop`: step ``i`` takes rows of ``arrays``.

  Epoch ``e = i // steps_per_epoch`` is the permutation ``epoch_indices(fold_in(key, e), n,
  batch_size)`` (the remainder is dropped); step ``i`` takes its row ``i % steps_per_epoch``. So
  the batch of a step is a function of ``(key, i)`` alone, and a resumed run sees the same
  batches. With ``[S]`` keys (one per seed) it is called as ``batches(i, s)``.

  Args:
    arrays: a pytree of arrays sharing the leading axis ``n`` (e.g. ``{'x': x, 'y': y}``); a
      leaf may carry a leading seed axis ``[S, n, ...]`` when ``per_seed`` names it.
    batch_size: rows per batch.
    key: a key, or ``[S]`` keys for several seeds.
    per_seed: top-level keys of ``arrays`` whose leaves are ``[S, n, ...]`` (e.g. per-seed
      noisy labels); seed ``s`` reads its own slice.

  Raises:
    ValueError: leaves of different lengths, or ``batch_size`` larger than ``n``.
  """

  def __init__(self, arrays: Any, batch_size: int, key: jax.Array, *,
               per_seed: tuple[str, ...] = ()):
    self.arrays = arrays
    self.per_seed = tuple(per_seed)
    self.multi = jax.numpy.ndim(key) == 1
    self.keys = list(key) if self.multi else [key]
    lengths = set()
    for name, tree in (arrays.items() if isinstance(arrays, dict) else [(None, arrays)]):
      axis = 1 if name in self.per_seed else 0
      lengths |= {np.shape(leaf)[axis] for leaf in jax.tree_util.tree_leaves(tree)}
    if len(lengths) != 1:
      raise ValueError(f"EpochBatches: every array needs the same number of rows, got {lengths}.")
    self.n = lengths.pop()
    if not 0 < batch_size <= self.n:
      raise ValueError(f"EpochBatches: batch_size must be in [1, {self.n}], got {batch_size}.")
    self.batch_size = int(batch_size)
    self.steps_per_epoch = self.n // self.batch_size
    self._perms: dict[tuple[int, int], np.ndarray] = {}

  def indices(self, i: int, s: int = 0) -> np.ndarray:
    """The ``[batch_size]`` row indices of step ``i`` (of seed ``s``)."""
    epoch, j = divmod(int(i), self.steps_per_epoch)
    if (s, epoch) not in self._perms:
      for old in [k for k in self._perms if k[0] == s]:
        del self._perms[old]
      key = jax.random.fold_in(self.keys[s], epoch)
      self._perms[(s, epoch)] = epoch_indices(key, self.n, self.batch_size)
    return self._perms[(s, epoch)][j]

  def __call__(self, i: int, s: int | None = None) -> Any:
    if s is None and self.multi:
      raise ValueError("EpochBatches with one key per seed is called as batches(i, s).")
    s = 0 if s is None else s
    idx = self.indices(i, s)
    if isinstance(self.arrays, dict):
      return {name: jax.tree_util.tree_map(
                  (lambda a: np.asarray(a)[s][idx]) if name in self.per_seed
                  else (lambda a: np.asarray(a)[idx]), tree)
              for name, tree in self.arrays.items()}
    return jax.tree_util.tree_map(lambda a: np.asarray(a)[idx], self.arrays)
