"""Host batch samplers for :func:`wassml.train.train_loop`: epochs of in-memory arrays
(:class:`EpochBatches`) and uniform random rows (:class:`RandomRows`).

Both are deterministic in ``(key, step)``, so a resumed run sees the batches it would have seen.
"""

from __future__ import annotations

from typing import Any

import functools

import jax
import jax.numpy as jnp
import numpy as np

from wassml.data.sampling import epoch_indices

__all__ = ["EpochBatches", "RandomRows", "epoch_indices"]


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


def _leading_rows(arrays: Any, per_seed: tuple[str, ...]) -> int:
  lengths = set()
  for name, tree in (arrays.items() if isinstance(arrays, dict) else [(None, arrays)]):
    axis = 1 if name in per_seed else 0
    lengths |= {np.shape(leaf)[axis] for leaf in jax.tree_util.tree_leaves(tree)}
  if len(lengths) != 1:
    raise ValueError(f"every array needs the same number of rows, got {sorted(lengths)}.")
  return lengths.pop()


def _take(arrays: Any, idx: np.ndarray, s: int, per_seed: tuple[str, ...]) -> Any:
  if isinstance(arrays, dict):
    return {name: jax.tree_util.tree_map(
                (lambda a: a[s][idx]) if name in per_seed else (lambda a: a[idx]), tree)
            for name, tree in arrays.items()}
  return jax.tree_util.tree_map(lambda a: a[idx], arrays)


@functools.partial(jax.jit, static_argnames=("count", "shape", "n", "replace"))
def _random_rows(key: jax.Array, start: jax.Array, *, count: int, shape: tuple[int, ...], n: int,
                 replace: bool) -> jax.Array:
  """``[count, *shape]`` row indices of steps ``start .. start + count - 1``."""
  def one(i):
    k_rows, _ = jax.random.split(jax.random.fold_in(key, i))
    if replace:
      return jax.random.randint(k_rows, shape, 0, n)
    return jax.random.choice(k_rows, n, shape, replace=False)
  return jax.vmap(one)(start + jnp.arange(count, dtype=jnp.int32))


@functools.partial(jax.jit, static_argnames=("count", "shape"))
def _random_rows_below(key: jax.Array, start: jax.Array, num_rows: jax.Array, *, count: int,
                       shape: tuple[int, ...]) -> jax.Array:
  """Like :func:`_random_rows` with replacement, rows below a traced ``num_rows``.

  The same draws as ``_random_rows(..., n=num_rows, replace=True)``, compiled once for every
  ``num_rows`` (a seed's labelled-set size changes every active-learning round).
  """
  def one(i):
    k_rows, _ = jax.random.split(jax.random.fold_in(key, i))
    return jax.random.randint(k_rows, shape, 0, num_rows)
  return jax.vmap(one)(start + jnp.arange(count, dtype=jnp.int32))


class RandomRows:
  """``batch_fn`` for :func:`wassml.train.train_loop`: uniform random rows of ``arrays``.

  Step ``i`` takes the rows ``randint(split(fold_in(key, i))[0], shape, 0, n)`` (with
  ``replace=False``: ``choice(..., replace=False)``, distinct rows), so a batch is a function of
  ``(key, i)`` alone; a step that splits its own key the same way gets the other half,
  ``split(fold_in(key, i))[1]``. Indices are drawn ``block`` steps at a time in one compiled call;
  the rows are gathered on the host. With ``[S]`` keys it is called as ``batches(i, s)``.

  Args:
    arrays: a pytree of arrays sharing the leading axis ``n``; a top-level key named in
      ``per_seed`` holds ``[S, n, ...]`` leaves (seed ``s`` reads its slice).
    shape: the index shape of one batch: a batch size, or e.g. ``(num_critic + 1, B)``.
    key: a key, or ``[S]`` keys for several seeds.
    per_seed: top-level keys of ``arrays`` whose leaves carry a leading seed axis.
    replace: draw with replacement (the default) or without.
    block: steps whose indices are drawn together.
    num_rows: the valid leading rows of each seed (``[S]`` ints, or one int with one key):
      seed ``s`` draws from rows ``0 .. num_rows[s] - 1`` only (padded per-seed sets, e.g. the
      labelled sets of active learning). None: every row.

  Raises:
    ValueError: leaves of different lengths, more distinct rows asked than there are, or
      ``num_rows`` of the wrong length or outside ``[1, n]``.
  """

  def __init__(self, arrays: Any, shape: int | tuple[int, ...], key: jax.Array, *,
               per_seed: tuple[str, ...] = (), replace: bool = True, block: int = 256,
               num_rows: Any = None):
    self.per_seed = tuple(per_seed)
    self.arrays = jax.tree_util.tree_map(np.asarray, arrays)
    self.shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(v) for v in shape)
    self.multi = jnp.ndim(key) == 1
    self.keys = list(key) if self.multi else [key]
    self.replace = bool(replace)
    self.block = int(block)
    self.n = _leading_rows(self.arrays, self.per_seed)
    self.num_rows = None
    if num_rows is not None:
      rows = np.asarray(num_rows, np.int64).reshape(-1)
      if len(rows) != len(self.keys):
        raise ValueError(f"RandomRows: num_rows needs one count per seed ({len(self.keys)}), got "
                         f"{len(rows)}.")
      if np.any(rows < 1) or np.any(rows > self.n):
        raise ValueError(f"RandomRows: num_rows must be in [1, {self.n}], got {rows.tolist()}.")
      self.num_rows = [int(v) for v in rows]
    fewest = self.n if self.num_rows is None else min(self.num_rows)
    if not replace and int(np.prod(self.shape)) > fewest:
      raise ValueError(f"RandomRows: {int(np.prod(self.shape))} distinct rows asked of {fewest}.")
    self._cache: dict[int, tuple[int, np.ndarray]] = {}

  def indices(self, i: int, s: int = 0) -> np.ndarray:
    """The row indices (``shape``) of step ``i`` of seed ``s``."""
    b, j = divmod(int(i), self.block)
    if self._cache.get(s, (None,))[0] != b:
      start = jnp.int32(b * self.block)
      if self.num_rows is not None and self.replace:
        rows = _random_rows_below(self.keys[s], start, jnp.int32(self.num_rows[s]),
                                  count=self.block, shape=self.shape)
      else:
        n = self.n if self.num_rows is None else self.num_rows[s]
        rows = _random_rows(self.keys[s], start, count=self.block, shape=self.shape, n=n,
                            replace=self.replace)
      self._cache[s] = (b, np.asarray(rows))
    return self._cache[s][1][j]

  def __call__(self, i: int, s: int | None = None) -> Any:
    if s is None and self.multi:
      raise ValueError("RandomRows with one key per seed is called as batches(i, s).")
    s = 0 if s is None else s
    return _take(self.arrays, self.indices(i, s), s, self.per_seed)
