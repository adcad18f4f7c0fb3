"""Wasserstein data mining in a learned DWE embedding (Ducoffe 2018 §8.3.1), and exact baselines.

Once ``phi`` (encode) and ``psi`` (decode) are trained (:mod:`wassml.embedding.dwe`), Wasserstein
problems become Euclidean ones in the embedding:

- pairwise ``W_2^2`` estimates ``||phi(x_i) - phi(y_j)||^2`` (:func:`pairwise_w2`) and independent
  ones for paired lists (:func:`independent_w2`);
- barycenters ``psi(sum_i alpha_i phi(x_i))`` (eq. 8.2, :func:`barycenter`);
- interpolation ``psi((1 - t) phi(x0) + t phi(x1))`` (:func:`interpolate`);
- principal geodesic analysis: PCA of the embeddings, decoded along each mode (eq. 8.4,
  :func:`pga`, :func:`pga_modes`);
- nearest neighbours under the learned ``W_2`` (:func:`nearest_neighbours`).

For comparison figures, the exact LP displacement interpolation (McCann, from an exact plan) and
the entropic barycenter by iterative Bregman projections (Benamou et al. 2015) are also here.

Functions taking ``encode``/``decode`` accept any callables with the shapes of
:class:`wassml.embedding.dwe.Embedder`: ``encode: [n, H, W, 1] -> [n, p]``,
``decode: [n, p] -> [n, H, W, 1]``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from wassml.ot.costs import pairwise_sqeuclidean
from wassml.utils import linalg

Encode = Callable[[ArrayLike], jax.Array]
Decode = Callable[[ArrayLike], jax.Array]


def _check_embeddings(name: str, z: ArrayLike) -> jax.Array:
  z = jnp.asarray(z)
  if z.ndim != 2:
    raise ValueError(f"{name} must be embeddings of shape [n, p], got shape {z.shape}.")
  return z


def pairwise_sq_distances(z1: ArrayLike, z2: ArrayLike | None = None) -> jax.Array:
  """All squared Euclidean distances between two sets of embeddings.

  Args:
    z1: ``[n, p]``.
    z2: ``[m, p]`` (``z1`` when omitted).

  Returns:
    ``[n, m]``, ``D_ij = ||z1_i - z2_j||^2`` (clamped at 0 against round-off).
  """
  z1 = _check_embeddings("z1", z1)
  z2 = z1 if z2 is None else _check_embeddings("z2", z2)
  if z1.shape[1] != z2.shape[1]:
    raise ValueError(f"embedding dimensions differ: z1 {z1.shape} and z2 {z2.shape}.")
  return pairwise_sqeuclidean(z1, z2)


def pairwise_w2(encode: Encode, x: ArrayLike, y: ArrayLike | None = None) -> jax.Array:
  """DWE estimates of ``W_2^2`` between all pairs: embed each set once, then distances.

  Args:
    encode: ``phi``.
    x: ``[n, H, W, 1]`` histograms.
    y: ``[m, H, W, 1]`` histograms (``x`` when omitted).

  Returns:
    ``[n, m]`` estimated ``W_2^2``.
  """
  zx = encode(x)
  zy = zx if y is None else encode(y)
  return pairwise_sq_distances(zx, zy)


def independent_w2(encode: Encode, x1: ArrayLike, x2: ArrayLike) -> jax.Array:
  """DWE estimates of ``W_2^2(x1_i, x2_i)`` for paired lists ``[n, H, W, 1]`` -> ``[n]``."""
  if np.shape(x1) != np.shape(x2):
    raise ValueError(f"x1 {np.shape(x1)} and x2 {np.shape(x2)} must have the same shape.")
  return jnp.sum((encode(x1) - encode(x2)) ** 2, axis=-1)


def _check_weights(weights: ArrayLike | None, n: int) -> jax.Array:
  if weights is None:
    return jnp.full((n,), 1.0 / n)
  w = np.asarray(weights, np.float64)
  if w.shape != (n,):
    raise ValueError(f"weights must have shape [{n}] (one per sample), got {w.shape}.")
  if not np.all(np.isfinite(w)) or np.any(w < 0):
    raise ValueError(f"barycentric weights must be finite and non-negative, got {w}.")
  if abs(w.sum() - 1.0) > 1e-5:
    raise ValueError(f"barycentric weights must sum to 1, got sum {w.sum():.6g}.")
  return jnp.asarray(w, jnp.float32)


def barycenter_embedding(z: ArrayLike, weights: ArrayLike | None = None) -> jax.Array:
  """``sum_i alpha_i z_i`` for embeddings ``[n, p]`` and weights ``[n]`` (uniform default) -> ``[p]``."""
  z = _check_embeddings("z", z)
  return linalg.matmul(_check_weights(weights, z.shape[0]), z)


def barycenter(encode: Encode, decode: Decode, x: ArrayLike, weights: ArrayLike | None = None
               ) -> jax.Array:
  """Approximate Wasserstein barycenter ``psi(sum_i alpha_i phi(x_i))`` (eq. 8.2).

  Args:
    encode: ``phi``.
    decode: ``psi``.
    x: ``[n, H, W, 1]`` histograms.
    weights: ``[n]`` non-negative weights summing to one (uniform when omitted).

  Returns:
    ``[H, W, 1]`` histogram.
  """
  zbar = barycenter_embedding(encode(x), weights)
  return decode(zbar[None])[0]


def interpolate(encode: Encode, decode: Decode, x0: ArrayLike, x1: ArrayLike, ts: ArrayLike
                ) -> jax.Array:
  """Wasserstein interpolation in the embedding: ``psi((1 - t) phi(x0) + t phi(x1))``.

  Args:
    encode: ``phi``.
    decode: ``psi``.
    x0: ``[H, W, 1]`` histogram at ``t = 0``.
    x1: ``[H, W, 1]`` histogram at ``t = 1``.
    ts: ``[T]`` times in ``[0, 1]``.

  Returns:
    ``[T, H, W, 1]`` decoded histograms.
  """
  if np.shape(x0) != np.shape(x1):
    raise ValueError(f"x0 {np.shape(x0)} and x1 {np.shape(x1)} must have the same shape.")
  ts = jnp.asarray(ts, jnp.float32).reshape(-1, 1)
  z = encode(jnp.stack([jnp.asarray(x0), jnp.asarray(x1)]))
  return decode((1.0 - ts) * z[0] + ts * z[1])


@dataclasses.dataclass(frozen=True)
class PGA:
  """Principal geodesic analysis in the embedding (PCA of ``phi(x_i)``, eq. 8.4).

  Attributes:
    mean: ``[p]`` approximate Frechet mean ``(1/N) sum_i phi(x_i)``.
    components: ``[k, p]`` orthonormal principal directions, by decreasing variance.
    stddev: ``[k]`` standard deviation of the embeddings along each direction.
  """
  mean: jax.Array
  components: jax.Array
  stddev: jax.Array


def pga(z: ArrayLike, num_components: int = 3) -> PGA:
  """PCA of embeddings ``[N, p]`` (``num_components <= min(N, p)``) -> :class:`PGA`."""
  z = _check_embeddings("z", z)
  n, p = z.shape
  if not 1 <= num_components <= min(n, p):
    raise ValueError(
        f"num_components must be in [1, min(N, p)] = [1, {min(n, p)}], got {num_components}.")
  mean = jnp.mean(z, axis=0)
  _, s, vt = jnp.linalg.svd(z - mean, full_matrices=False)
  # sign convention: the largest-magnitude coordinate of each direction is positive
  signs = jnp.sign(vt[jnp.arange(vt.shape[0]), jnp.argmax(jnp.abs(vt), axis=1)])
  vt = vt * signs[:, None]
  std = s / jnp.sqrt(jnp.maximum(n - 1, 1))
  return PGA(mean=mean, components=vt[:num_components], stddev=std[:num_components])


def pga_modes(decode: Decode, result: PGA, steps: ArrayLike = (-1.5, -0.75, 0.0, 0.75, 1.5)
              ) -> jax.Array:
  """Decodes ``psi(mean + s * stddev_k * v_k)`` along each principal direction.

  Args:
    decode: ``psi``.
    result: a :class:`PGA`.
    steps: ``[S]`` multiples of the standard deviation (the reference code's ``[-1.5, 1.5]``).

  Returns:
    ``[k, S, H, W, 1]`` decoded histograms.
  """
  steps = jnp.asarray(steps, jnp.float32)
  k = result.components.shape[0]
  z = (result.mean[None, None, :]
       + steps[None, :, None] * result.stddev[:, None, None] * result.components[:, None, :])
  out = decode(z.reshape(k * steps.shape[0], -1))
  return out.reshape((k, steps.shape[0], *out.shape[1:]))


def nearest_neighbours(query: ArrayLike, database: ArrayLike, k: int = 1
                       ) -> tuple[jax.Array, jax.Array]:
  """``k`` nearest database embeddings of each query under the learned ``W_2``.

  Args:
    query: ``[q, p]`` embeddings.
    database: ``[n, p]`` embeddings.
    k: number of neighbours (``1 <= k <= n``).

  Returns:
    ``(w2, indices)``: ``[q, k]`` estimated ``W_2^2`` (ascending) and ``[q, k]`` int indices.
  """
  d = pairwise_sq_distances(query, database)
  if not 1 <= k <= d.shape[1]:
    raise ValueError(f"k must be in [1, {d.shape[1]}] (the database size), got {k}.")
  neg, idx = jax.lax.top_k(-d, k)
  return -neg, idx


# ----------------------------------------------------------------------------------------------
# Exact and entropic baselines on the pixel grid (for the interpolation comparison).


def _grid_positions(h: int, w: int) -> jax.Array:
  rows, cols = jnp.meshgrid(jnp.arange(h), jnp.arange(w), indexing="ij")
  return jnp.stack([rows.ravel(), cols.ravel()], axis=-1).astype(jnp.float32)


@functools.partial(jax.jit, static_argnames=("shape",))
def displacement_interpolation(plan: ArrayLike, t: ArrayLike, shape: tuple[int, int]
                               ) -> jax.Array:
  """McCann displacement interpolation from an optimal plan, splatted back on the grid.

  Mass ``P_kl`` travels from pixel ``p_k`` to ``p_l``; at time ``t`` it sits at
  ``(1 - t) p_k + t p_l`` and is shared bilinearly between the four surrounding pixels.

  Args:
    plan: ``[d, d]`` optimal plan between two histograms on an ``H x W`` grid (``d = H W``).
    t: scalar time in ``[0, 1]``.
    shape: ``(H, W)``.

  Returns:
    ``[H, W, 1]`` histogram at time ``t``.
  """
  h, w = shape
  pos = _grid_positions(h, w)
  p = jnp.asarray(plan).ravel()
  src = jnp.repeat(pos, pos.shape[0], axis=0)
  dst = jnp.tile(pos, (pos.shape[0], 1))
  loc = (1.0 - t) * src + t * dst
  base = jnp.floor(loc)
  frac = loc - base
  out = jnp.zeros((h, w), jnp.float32)
  for dr in (0, 1):
    for dc in (0, 1):
      wr = frac[:, 0] if dr else 1.0 - frac[:, 0]
      wc = frac[:, 1] if dc else 1.0 - frac[:, 1]
      r = jnp.clip(base[:, 0].astype(jnp.int32) + dr, 0, h - 1)
      c = jnp.clip(base[:, 1].astype(jnp.int32) + dc, 0, w - 1)
      out = out.at[r, c].add(p * wr * wc)
  return out[..., None]


@functools.partial(jax.jit, static_argnames=("num_iters",))
def entropic_barycenter(hists: ArrayLike, weights: ArrayLike, cost: ArrayLike, *,
                        epsilon: float, num_iters: int = 200) -> jax.Array:
  """Entropic Wasserstein barycenter by iterative Bregman projections (Benamou et al. 2015).

  Log-domain updates with ``K = exp(-C / epsilon)``: ``u_k = a_k / K v_k``,
  ``b = prod_k (K^T u_k)^{w_k}``, ``v_k = b / K^T u_k``.

  Args:
    hists: ``[K, d]`` histograms.
    weights: ``[K]`` non-negative weights summing to one.
    cost: ``[d, d]`` ground cost.
    epsilon: entropic regularisation (in the units of ``cost``).
    num_iters: number of Bregman iterations.

  Returns:
    ``[d]`` barycenter histogram.
  """
  loga = jnp.log(jnp.maximum(jnp.asarray(hists), 1e-30))
  logk = -jnp.asarray(cost) / epsilon
  wts = jnp.asarray(weights)

  def kv(logv):  # log (K v) for each of the K histograms: [K, d]
    return jax.nn.logsumexp(logk[None] + logv[:, None, :], axis=2)

  def ktu(logu):  # log (K^T u): [K, d]
    return jax.nn.logsumexp(logk[None] + logu[:, :, None], axis=1)

  def body(_, logv):
    logu = loga - kv(logv)
    lk = ktu(logu)
    logb = linalg.matmul(wts, lk)
    return logb[None] - lk

  logv = jax.lax.fori_loop(0, num_iters, body, jnp.zeros_like(loga))
  logu = loga - kv(logv)
  logb = linalg.matmul(wts, ktu(logu))
  b = jnp.exp(logb)
  return b / jnp.sum(b)


__all__ = [
    "PGA", "barycenter", "barycenter_embedding", "displacement_interpolation",
    "entropic_barycenter", "independent_w2", "interpolate", "nearest_neighbours", "pairwise_sq_distances",
    "pairwise_w2", "pga", "pga_modes",
]
