"""Exact ``W_2^2`` targets between images seen as histograms on their pixel grid.

Deep Wasserstein Embedding (DWE, Ducoffe 2018 ch. 8; Courty et al. 2018) learns from pairs of
images ``(x1_i, x2_i)`` and their exact squared 2-Wasserstein distance

  ``y_i = W_2^2(x1_i, x2_i) = min_{P in U(a, b)} <P, C>``,  ``C_kl = ||p_k - p_l||^2``,

where ``a``, ``b`` are the images normalised to unit mass and ``p_k`` are pixel positions in pixel
units (row, column), exactly as the reference code (``ot.dist`` on the ``meshgrid`` of the grid).

This module turns images into histograms (with clear errors on bad input), builds the grid cost,
draws random pairs and solves them with :func:`wassml.ot.emd` in vmapped batches, saving each
finished chunk to disk so a long generation resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import pathlib
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from wassml.utils import checks as uc

Solver = Callable[..., "object"]  # solver(cost, a, b) -> wassml.ot.OTResult


def _default_solver() -> Solver:
  from wassml import ot as wot  # imported lazily: the OT core is only needed to solve
  return wot.emd


def grid_cost(height: int, width: int | None = None) -> jax.Array:
  """Squared Euclidean cost between the pixel positions of an ``height x width`` grid.

  Pixels are flattened in row-major (C) order, matching ``images.reshape(n, -1)``; distances are
  in pixel units, so ``W_2^2`` between an image and its copy shifted by ``s`` pixels is ``s^2``.

  Args:
    height: number of rows.
    width: number of columns (``height`` when omitted).

  Returns:
    ``[height * width, height * width]`` float32 cost matrix.
  """
  width = height if width is None else width
  if int(height) < 1 or int(width) < 1:
    raise ValueError(f"grid size must be positive, got {height} x {width}.")
  rows, cols = jnp.meshgrid(jnp.arange(height), jnp.arange(width), indexing="ij")
  pos = jnp.stack([rows.ravel(), cols.ravel()], axis=-1).astype(jnp.float32)
  return jnp.sum((pos[:, None, :] - pos[None, :, :]) ** 2, axis=-1)


def image_shape(images: ArrayLike) -> tuple[int, int]:
  """Grid shape ``(H, W)`` of a batch of grayscale images ``[n, H, W]`` or ``[n, H, W, 1]``."""
  shape = tuple(np.shape(images))
  if len(shape) == 4 and shape[-1] == 1:
    shape = shape[:3]
  if len(shape) != 3:
    raise ValueError(
        "images must be grayscale with shape [n, H, W] or [n, H, W, 1]; got shape "
        f"{tuple(np.shape(images))}.")
  return shape[1], shape[2]


def to_histograms(images: ArrayLike) -> jax.Array:
  """Normalises grayscale images to histograms (unit mass) on their pixel grid.

  Args:
    images: ``[n, H, W]`` or ``[n, H, W, 1]`` non-negative pixel values.

  Returns:
    ``[n, H * W]`` float32 histograms, each summing to one.

  Raises:
    ValueError: on a wrong shape, non-finite or negative values, or an image of zero mass.
  """
  h, w = image_shape(images)
  x = jnp.asarray(images, dtype=jnp.float32).reshape(-1, h * w)
  if not uc.is_tracer(x):
    xn = np.asarray(x)
    if not np.all(np.isfinite(xn)):
      raise ValueError("images contain NaN or infinite values.")
    bad = np.flatnonzero(xn.min(axis=1) < 0)
    if bad.size:
      raise ValueError(
          f"images must be non-negative to be histograms; image(s) {bad[:5].tolist()} have "
          f"negative values (min {xn.min():.3g}).")
    zero = np.flatnonzero(xn.sum(axis=1) <= 0)
    if zero.size:
      raise ValueError(
          f"images must have positive mass to be histograms; image(s) {zero[:5].tolist()} "
          "sum to zero.")
  return x / jnp.sum(x, axis=1, keepdims=True)


def check_same_grid(x1: ArrayLike, x2: ArrayLike) -> tuple[int, int]:
  """Checks that two image batches live on the same grid and have the same length."""
  g1, g2 = image_shape(x1), image_shape(x2)
  if g1 != g2:
    raise ValueError(f"mismatched grid sizes: x1 is on a {g1} grid and x2 on a {g2} grid.")
  if np.shape(x1)[0] != np.shape(x2)[0]:
    raise ValueError(
        f"x1 and x2 must hold the same number of images, got {np.shape(x1)[0]} and "
        f"{np.shape(x2)[0]}.")
  return g1


def w2_squared(a: ArrayLike, b: ArrayLike, cost: ArrayLike, *, solver: Solver | None = None
               ) -> jax.Array:
  """Exact ``W_2^2`` between two histograms on one grid (one pair; vmap at the call site).

  Args:
    a: ``[d]`` histogram (non-negative, unit mass).
    b: ``[d]`` histogram.
    cost: ``[d, d]`` squared ground cost, e.g. :func:`grid_cost`.
    solver: ``solver(cost, a, b) -> OTResult``; :func:`wassml.ot.emd` by default.

  Returns:
    Scalar ``<P*, C>``.
  """
  solver = _default_solver() if solver is None else solver
  return solver(cost, a, b).transport_cost


@functools.partial(jax.jit, static_argnames=("solver",))
def _batch_w2(a: jax.Array, b: jax.Array, ia: jax.Array, ib: jax.Array, cost: jax.Array,
              solver: Solver) -> tuple[jax.Array, jax.Array]:
  """``[B, S]`` compacted weights and pixel indices ``[B, S]`` -> ``[B]`` values, ``[B]`` converged."""

  def one(u, v, iu, iv):
    res = solver(cost[iu[:, None], iv[None, :]], u, v)
    return res.transport_cost, jnp.asarray(res.converged, bool)

  return jax.vmap(one)(a, b, ia, ib)


def _compact(h: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
  """Moves each row's non-empty pixels first: ``[B, d] -> (weights [B, size], indices [B, size])``."""
  order = np.argsort(h <= 0, axis=1, kind="stable")[:, :size]
  return np.take_along_axis(h, order, axis=1), order.astype(np.int32)


def pair_targets(x1: ArrayLike, x2: ArrayLike, *, solver: Solver | None = None,
                 batch_size: int = 64, compact_support: bool = True,
                 progress: bool = False) -> np.ndarray:
  """Exact ``W_2^2`` between paired images, in vmapped batches.

  With ``compact_support`` each problem keeps only the rows where ``x1_i`` has mass and the
  columns where ``x2_i`` has mass (padded with empty pixels to a common size per batch, rounded
  up to a multiple of 16): pixels without mass carry no transport, so the optimal value is
  unchanged, and the LP is several times smaller on images with an empty background.

  Args:
    x1: ``[n, H, W]`` or ``[n, H, W, 1]`` non-negative images.
    x2: same shape as ``x1``.
    solver: ``solver(cost, a, b) -> OTResult`` (static); :func:`wassml.ot.emd` by default.
    batch_size: pairs per vmapped call (the last batch is padded with trivial pairs to keep one
      compiled shape).
    compact_support: solve on the non-empty pixels only (exact; see above).
    progress: show a tqdm bar.

  Returns:
    ``[n]`` float32 array of ``W_2^2(x1_i, x2_i)`` in squared pixel units.

  Raises:
    RuntimeError: the solver did not certify a pair as solved (``converged`` False), so its
      target would not be exact; the error names the pairs.
  """
  h, w = check_same_grid(x1, x2)
  a, b = np.asarray(to_histograms(x1)), np.asarray(to_histograms(x2))
  solver = _default_solver() if solver is None else solver
  cost = grid_cost(h, w)
  n, d = a.shape
  batch_size = max(1, min(batch_size, n))
  out = np.empty((n,), np.float32)
  starts = range(0, n, batch_size)
  if progress:
    from tqdm.auto import tqdm
    starts = tqdm(starts, desc="W2 pairs", unit="batch")
  for s in starts:
    e = min(s + batch_size, n)
    ab, bb = a[s:e], b[s:e]
    if e - s < batch_size:  # pad with trivial pairs (a Dirac on pixel 0): one compiled shape
      dirac = np.zeros((batch_size - (e - s), d), ab.dtype)
      dirac[:, 0] = 1.0
      ab, bb = np.concatenate([ab, dirac]), np.concatenate([bb, dirac])
    size = d
    if compact_support:
      nnz = max(int((ab > 0).sum(1).max()), int((bb > 0).sum(1).max()))
      size = min(d, -(-nnz // 16) * 16)
    wa, ia = _compact(ab, size)
    wb, ib = _compact(bb, size)
    vals, ok = _batch_w2(jnp.asarray(wa), jnp.asarray(wb), jnp.asarray(ia), jnp.asarray(ib),
                         cost, solver)
    bad = np.flatnonzero(~np.asarray(ok)[: e - s])
    if bad.size:
      raise RuntimeError(
          f"pair_targets: the exact solver did not converge on pairs {(s + bad).tolist()[:10]} "
          f"({bad.size} in this batch); their W2^2 would not be exact.")
    out[s:e] = np.asarray(vals)[: e - s]
  return out


def sample_pair_indices(key: jax.Array, num_items: int, num_pairs: int) -> tuple[np.ndarray,
                                                                                 np.ndarray]:
  """Draws ``num_pairs`` index pairs uniformly with replacement, as the reference code does.

  Args:
    key: a ``jax.random.key``.
    num_items: size of the image collection.
    num_pairs: number of pairs.

  Returns:
    ``(i1, i2)``, two ``[num_pairs]`` int32 arrays.
  """
  if num_items < 2:
    raise ValueError(f"need at least 2 images to draw pairs, got {num_items}.")
  k1, k2 = jax.random.split(key)
  i1 = jax.random.randint(k1, (num_pairs,), 0, num_items)
  i2 = jax.random.randint(k2, (num_pairs,), 0, num_items)
  return np.asarray(i1, np.int32), np.asarray(i2, np.int32)


@dataclasses.dataclass(frozen=True)
class PairSet:
  """Pairs of images (by index into a collection) with their exact ``W_2^2``.

  Attributes:
    i1: ``[n]`` int32 indices of the first images.
    i2: ``[n]`` int32 indices of the second images.
    w2: ``[n]`` float32 exact ``W_2^2`` targets.
  """
  i1: np.ndarray
  i2: np.ndarray
  w2: np.ndarray

  def __len__(self) -> int:
    return int(self.w2.shape[0])

  def split(self, fraction: float) -> tuple["PairSet", "PairSet"]:
    """First ``fraction`` of the pairs and the rest (the reference code's 80/20 train/valid)."""
    k = int(round(fraction * len(self)))
    head = PairSet(self.i1[:k], self.i2[:k], self.w2[:k])
    tail = PairSet(self.i1[k:], self.i2[k:], self.w2[k:])
    return head, tail


def _fingerprint(images: np.ndarray) -> str:
  import hashlib
  h = hashlib.sha1()
  h.update(str(images.shape).encode())
  h.update(np.ascontiguousarray(images[:: max(1, len(images) // 64)]).tobytes())
  return h.hexdigest()[:16]


def _atomic_save_npz(path: pathlib.Path, **arrays) -> None:
  tmp = path.with_name(path.name + ".tmp.npz")
  np.savez(tmp, **arrays)
  os.replace(tmp, path)


def _key_fingerprint(key: jax.Array) -> str:
  import hashlib
  data = np.asarray(jax.random.key_data(key)) if jax.dtypes.issubdtype(
      key.dtype, jax.dtypes.prng_key) else np.asarray(key)
  return hashlib.sha1(data.tobytes()).hexdigest()[:16]


def chunk_pair_indices(key: jax.Array, num_items: int, chunk: int, chunk_size: int
                       ) -> tuple[np.ndarray, np.ndarray]:
  """Indices of chunk ``chunk``: ``chunk_size`` pairs drawn from ``fold_in(key, chunk)``.

  Drawing per chunk makes a pair set a prefix of any larger one made with the same key and
  chunk size, so a generation can be extended or stopped early without invalidating its cache.
  """
  return sample_pair_indices(jax.random.fold_in(key, chunk), num_items, chunk_size)


def generate_pairs(key: jax.Array, images: ArrayLike, num_pairs: int, *,
                   cache_dir: str | os.PathLike | None = None, chunk_size: int = 1024,
                   batch_size: int = 64, solver: Solver | None = None,
                   targets_fn: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
                   progress: bool = True) -> PairSet:
  """Draws random pairs from a collection and computes their exact ``W_2^2``, resumably.

  Pairs are drawn chunk by chunk (:func:`chunk_pair_indices`) and solved chunk by chunk; with
  ``cache_dir`` each finished chunk is written to ``cache_dir/chunk_XXXXX.npz`` (atomically)
  beside a ``meta.json`` (chunk size, fingerprints of the images and the key). Calling again
  loads the finished chunks and solves only the missing ones; since chunk ``c`` depends only on
  ``(key, c, chunk_size)``, a larger ``num_pairs`` extends a cache and a smaller one reuses its
  prefix. A cache made for other images, key or chunk size raises a ``ValueError``.

  Args:
    key: a ``jax.random.key`` that fixes the pairs.
    images: ``[N, H, W]`` or ``[N, H, W, 1]`` non-negative images of positive mass.
    num_pairs: number of pairs to generate.
    cache_dir: folder for the checkpointed chunks (no checkpointing when ``None``).
    chunk_size: pairs per saved chunk.
    batch_size: pairs per vmapped solver call.
    solver: ``solver(cost, a, b) -> OTResult``; :func:`wassml.ot.emd` by default.
    targets_fn: replaces :func:`pair_targets` altogether: ``targets_fn(x1, x2) -> [n]`` exact
      ``W_2^2`` for image batches (e.g. a reference LP solver in benchmarks); ``solver`` and
      ``batch_size`` are then unused.
    progress: show a tqdm bar over chunks.

  Returns:
    A :class:`PairSet` with ``num_pairs`` pairs.
  """
  images = np.asarray(images, np.float32)
  image_shape(images)
  to_histograms(images[:1])  # cheap shape check; every used image is validated per chunk
  if num_pairs < 1:
    raise ValueError(f"num_pairs must be positive, got {num_pairs}.")
  if chunk_size < 1:
    raise ValueError(f"chunk_size must be positive, got {chunk_size}.")
  cache = None
  if cache_dir is not None:
    cache = pathlib.Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    meta = {"chunk_size": int(chunk_size), "images": _fingerprint(images),
            "key": _key_fingerprint(key)}
    meta_path = cache / "meta.json"
    if meta_path.exists():
      old = json.loads(meta_path.read_text())
      if old != meta:
        raise ValueError(
            f"pair cache {cache} was made for other arguments ({old}); expected {meta}. "
            "Use another cache_dir or delete this one.")
    else:
      meta_path.write_text(json.dumps(meta, indent=1))
  num_chunks = -(-num_pairs // chunk_size)
  i1s, i2s, w2s = [], [], []
  chunks = range(num_chunks)
  if progress:
    from tqdm.auto import tqdm
    chunks = tqdm(chunks, desc="W2 pair chunks", unit="chunk")
  for c in chunks:
    i1, i2 = chunk_pair_indices(key, images.shape[0], c, chunk_size)
    need = min(chunk_size, num_pairs - c * chunk_size)
    i1, i2 = i1[:need], i2[:need]
    path = None if cache is None else cache / f"chunk_{c:05d}.npz"
    w2 = None
    if path is not None and path.exists():
      with np.load(path) as z:
        if len(z["w2"]) >= need and np.array_equal(z["i1"][:need], i1) and np.array_equal(
            z["i2"][:need], i2):
          w2 = np.asarray(z["w2"][:need], np.float32)
    if w2 is None:
      x1, x2 = images[i1], images[i2]
      if targets_fn is None:
        w2 = pair_targets(x1, x2, solver=solver, batch_size=batch_size)
      else:
        to_histograms(x1), to_histograms(x2)  # same validation as the default path
        w2 = np.asarray(targets_fn(x1, x2), np.float32)
      if path is not None:
        _atomic_save_npz(path, i1=i1, i2=i2, w2=w2)
    i1s.append(i1), i2s.append(i2), w2s.append(w2)
  w2 = np.concatenate(w2s)
  if not np.all(np.isfinite(w2)):
    raise ValueError("some W2 targets are not finite: the solver failed on some pairs.")
  return PairSet(np.concatenate(i1s), np.concatenate(i2s), w2)
