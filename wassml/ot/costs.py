"""Ground costs between point clouds."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from wassml.utils import checks as uc
from wassml.utils import linalg


def check_point_clouds(x: ArrayLike, y: ArrayLike) -> None:
  """Raises ValueError unless ``x: [n, d]`` and ``y: [m, d]`` share ``d``."""
  uc.check_ndim(x, 2, "x")
  uc.check_ndim(y, 2, "y")
  if jnp.shape(x)[1] != jnp.shape(y)[1]:
    raise ValueError(
        f"x and y must have the same dimension d, got x {tuple(jnp.shape(x))} and "
        f"y {tuple(jnp.shape(y))}.")


def sqeuclidean(x: ArrayLike, y: ArrayLike) -> jax.Array:
  """Squared Euclidean cost ``C_ij = ||x_i - y_j||^2``.

  Args:
    x: ``[n, d]`` points.
    y: ``[m, d]`` points.

  Returns:
    ``[n, m]`` cost matrix (clipped at 0 against rounding).
  """
  check_point_clouds(x, y)
  return pairwise_sqeuclidean(x, y)


def pairwise_sqeuclidean(x: ArrayLike, y: ArrayLike) -> jax.Array:
  """:func:`sqeuclidean` without the input checks, for callers that have checked their shapes.

  The cross term ``x y^T`` is computed at full float32 precision (:mod:`wassml.utils.linalg`:
  under TF32 its rounding ``~1e-3 |x| |y|`` can exceed the distance of close points).

  Args:
    x: ``[n, d]`` points.
    y: ``[m, d]`` points.

  Returns:
    ``[n, m]`` cost matrix, clipped at 0 against rounding.
  """
  x = jnp.asarray(x)
  y = jnp.asarray(y)
  c = (jnp.sum(x * x, -1)[:, None] + jnp.sum(y * y, -1)[None, :]
       - 2.0 * linalg.matmul(x, y.T))
  return jnp.maximum(c, 0.0)


def euclidean_power(x: ArrayLike, y: ArrayLike, p: float = 2.0) -> jax.Array:
  """Cost ``C_ij = ||x_i - y_j||^p`` (``p = 2`` is :func:`sqeuclidean`).

  Args:
    x: ``[n, d]`` points.
    y: ``[m, d]`` points.
    p: exponent > 0.

  Returns:
    ``[n, m]`` cost matrix.
  """
  if p == 2:
    return sqeuclidean(x, y)
  check_point_clouds(x, y)
  diff = jnp.asarray(x)[:, None, :] - jnp.asarray(y)[None, :, :]
  # sqrt with a safe gradient at 0.
  sq = jnp.sum(diff * diff, -1)
  safe = jnp.where(sq > 0, sq, 1.0)
  return jnp.where(sq > 0, safe ** (p / 2.0), 0.0)
