"""Sliced Wasserstein distance."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from wassml.ot.costs import check_point_clouds
from wassml.utils import linalg


def wasserstein_1d_pp(u: jax.Array, v: jax.Array, p: float) -> jax.Array:
  """``W_p^p`` between uniform empirical measures on the line.

  Args:
    u: ``[n]`` samples.
    v: ``[m]`` samples.
    p: exponent.

  Returns:
    scalar ``int_0^1 |F_u^{-1}(t) - F_v^{-1}(t)|^p dt``.
  """
  n, m = u.shape[0], v.shape[0]
  us = jnp.sort(u)
  vs = jnp.sort(v)
  if n == m:
    return jnp.mean(jnp.abs(us - vs) ** p)
  # Merge the quantile breakpoints k/n and l/m and integrate piecewise.
  t = jnp.sort(jnp.concatenate([jnp.arange(1, n + 1) / n, jnp.arange(1, m + 1) / m]))
  t_prev = jnp.concatenate([jnp.zeros((1,)), t[:-1]])
  mid = 0.5 * (t + t_prev)
  iu = jnp.clip(jnp.floor(mid * n).astype(jnp.int32), 0, n - 1)
  iv = jnp.clip(jnp.floor(mid * m).astype(jnp.int32), 0, m - 1)
  return jnp.sum((t - t_prev) * jnp.abs(us[iu] - vs[iv]) ** p)


def sliced_wasserstein(
    rng: jax.Array,
    x: ArrayLike,
    y: ArrayLike,
    *,
    num_projections: int = 50,
    p: float = 2.0,
) -> jax.Array:
  """Monte-Carlo sliced Wasserstein distance between uniform point clouds.

  ``SW_p(x, y) = ( E_{theta ~ U(S^{d-1})} W_p^p(<theta, x>, <theta, y>) )^(1/p)``,
  estimated with ``num_projections`` random directions.

  Args:
    rng: ``jax.random.key``.
    x: ``[n, d]`` points.
    y: ``[m, d]`` points.
    num_projections: number of random directions.
    p: exponent >= 1.

  Returns:
    scalar ``SW_p``; differentiable in ``x`` and ``y``.
  """
  check_point_clouds(x, y)
  if not p >= 1:
    raise ValueError(f"p must be >= 1, got {p!r}.")
  if int(num_projections) < 1:
    raise ValueError(f"num_projections must be >= 1, got {num_projections!r}.")
  x = jnp.asarray(x)
  y = jnp.asarray(y)
  d = x.shape[1]
  theta = jax.random.normal(rng, (int(num_projections), d), x.dtype)
  theta = theta / jnp.linalg.norm(theta, axis=1, keepdims=True)
  px = linalg.matmul(x, theta.T)
  py = linalg.matmul(y, theta.T)
  wpp = jax.vmap(lambda u, v: wasserstein_1d_pp(u, v, p), in_axes=(1, 1))(px, py)
  return jnp.mean(wpp) ** (1.0 / p)
