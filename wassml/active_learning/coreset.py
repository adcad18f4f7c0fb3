"""CORE-SET (Sener & Savarese 2018): greedy k-center on penultimate features.

Choose ``k`` candidates one at a time, each the candidate farthest from its nearest centre, the
centres being the labelled set plus the points chosen so far. (The greedy 2-approximation; the
paper's mixed-integer refinement and outlier budget are not implemented.)
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from wassml.ot.costs import pairwise_sqeuclidean

__all__ = ["k_center_greedy"]


@functools.partial(jax.jit, static_argnames=("k", "chunk_size"))
def k_center_greedy(centers: ArrayLike, candidates: ArrayLike, k: int, *, chunk_size: int = 4096) -> tuple[jax.Array, jax.Array]:
  """Greedy k-center selection.

  Args:
    centers: ``[n0, d]`` features of the already labelled points (``n0`` may be 0).
    candidates: ``[n, d]`` features of the candidates (``n >= k``).
    k: number to choose.
    chunk_size: centres processed at once for the initial distances.

  Returns:
    ``(indices [k] into candidates, radius [k])`` where ``radius[t]`` is the distance of the
    ``t``-th chosen point to its nearest centre at the time it was chosen (the covering radius).
  """
  centers = jnp.asarray(centers, jnp.float32)
  cand = jnp.asarray(candidates, jnp.float32)
  n = cand.shape[0]
  if k > n:
    raise ValueError(f"k_center_greedy: k={k} exceeds the number of candidates {n}")
  if centers.shape[0] == 0:
    min_d = jnp.full((n,), jnp.inf)
  else:
    min_d = jnp.full((n,), jnp.inf)
    for i in range(0, centers.shape[0], chunk_size):
      min_d = jnp.minimum(min_d, pairwise_sqeuclidean(cand, centers[i : i + chunk_size]).min(axis=1))

  def body(t, carry):
    md, chosen, radius = carry
    # without centres, start from the candidate nearest the mean (deterministic)
    first = jnp.argmin(jnp.sum(jnp.square(cand - cand.mean(0)), 1))
    j = jnp.where(jnp.all(jnp.isinf(md)), first, jnp.argmax(md))
    radius = radius.at[t].set(jnp.sqrt(jnp.where(jnp.isinf(md[j]), 0.0, md[j])))
    chosen = chosen.at[t].set(j)
    md = jnp.minimum(md, jnp.sum(jnp.square(cand - cand[j]), 1))
    md = md.at[j].set(-1.0)  # never pick twice
    return md, chosen, radius

  _, chosen, radius = jax.lax.fori_loop(0, k, body, (min_d, jnp.zeros((k,), jnp.int32), jnp.zeros((k,))))
  return chosen, radius
