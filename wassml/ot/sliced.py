"""Sliced Wasserstein distance."""

from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from wassml.ot import one_dim
from wassml.ot.checks import float_dtype
from wassml.ot.costs import check_point_clouds
from wassml.utils import linalg


def wasserstein_1d_pp(u: jax.Array, v: jax.Array, p: float) -> jax.Array:
  """``W_p^p`` between uniform empirical measures on the line.

  Args:
    u: ``[n]`` samples.
    v: ``[m]`` samples.
    p: exponent.

  Returns:
    scalar ``int_0^1 |F_u^{-1}(t) - F_v^{-1}(t)|^p dt``. For weighted samples, and for the
    dual potentials, see :func:`wassml.ot.wasserstein_1d`.
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
    a: Optional[ArrayLike] = None,
    b: Optional[ArrayLike] = None,
    *,
    num_projections: int = 50,
    p: float = 2.0,
) -> jax.Array:
  """Monte-Carlo sliced Wasserstein distance between (weighted) point clouds.

  ``SW_p(x, y) = ( E_{theta ~ U(S^{d-1})} W_p^p(<theta, x>_# a, <theta, y>_# b) )^(1/p)``,
  estimated with ``num_projections`` random directions; each 1-D ``W_p^p`` is exact
  (:func:`wassml.ot.wasserstein_1d`, ``O((n + m) log(n + m))``). POT:
  ``ot.sliced_wasserstein_distance(x, y, a, b, n_projections, p, projections=theta.T)``
  with the same directions ``theta`` (here ``jax.random.normal(rng, (num_projections, d))``
  normalised to unit rows) gives the same value.

  Args:
    rng: ``jax.random.key``.
    x: ``[n, d]`` points.
    y: ``[m, d]`` points.
    a: ``[n]`` non-negative weights, uniform ``1/n`` if None.
    b: ``[m]`` non-negative weights, uniform ``1/m`` if None; same total mass as ``a``.
    num_projections: number of random directions.
    p: exponent >= 1.

  Returns:
    scalar ``SW_p``; differentiable in ``x`` and ``y`` and, for given weights, in ``a`` and
    ``b`` (the mean over directions of the 1-D centred duals, times the chain rule of the
    ``1/p`` power).

  Raises:
    ValueError: mismatched dimensions, bad weights (see :func:`wassml.ot.wasserstein_1d`),
      ``p < 1``, ``num_projections < 1``.
  """
  check_point_clouds(x, y)
  p = one_dim.check_exponent(p)
  if int(num_projections) < 1:
    raise ValueError(f"num_projections must be >= 1, got {num_projections!r}.")
  weighted = a is not None or b is not None
  dt = float_dtype(x, y, a, b) if weighted else None
  x = jnp.asarray(x, dt)
  y = jnp.asarray(y, dt)
  n, d = x.shape
  m = y.shape[0]
  theta = jax.random.normal(rng, (int(num_projections), d), x.dtype)
  theta = theta / jnp.linalg.norm(theta, axis=1, keepdims=True)
  px = linalg.matmul(x, theta.T)
  py = linalg.matmul(y, theta.T)
  if not weighted:
    wpp = jax.vmap(lambda u, v: wasserstein_1d_pp(u, v, p), in_axes=(1, 1))(px, py)
  else:
    a, b = one_dim.prepare_weights(a, b, n, m, x.dtype, sizes=("x", "y"))
    wpp = jax.vmap(lambda u, v: one_dim._wasserstein_1d(u, v, a, b, p, False),
                   in_axes=(1, 1))(px, py)
  return jnp.mean(wpp) ** (1.0 / p)
