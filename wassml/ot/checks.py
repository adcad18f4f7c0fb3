"""Eager validation and defaults for OT problems ``(cost, a, b)``.

The OT-specific layer (cost matrix and marginal weights) on the generic, tracer-skipping checks
of :mod:`wassml.utils.checks`.
"""

from __future__ import annotations

from typing import Optional, Tuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from wassml.utils import checks as uc


def float_dtype(*xs):
  """The floating dtype to compute in: that of the inputs, at least float32."""
  dt = jnp.result_type(*[x for x in xs if x is not None])
  if not jnp.issubdtype(dt, jnp.floating):
    dt = jnp.result_type(float)
  return dt


def prepare_weight(w, name: str, size: int, dt, *, matches: str, balanced: bool):
  """Checks one weight vector (or fills ``1/size`` if None) and returns it as ``dt``.

  Raises ValueError for a shape other than ``(size,)`` (the message names ``matches``, what the
  size comes from), a negative, NaN or infinite entry, and (``balanced``) a sum other than 1,
  else (unbalanced) a zero total mass.
  """
  if w is None:
    return jnp.full((size,), 1.0 / size, dt)
  uc.check_floating_or_int(w, name)
  if jnp.ndim(w) != 1 or jnp.shape(w)[0] != size:
    raise ValueError(
        f"{name} must have shape ({size},) to match {matches}, got {tuple(jnp.shape(w))}.")
  uc.check_nonnegative(w, name)
  uc.check_finite(w, name)
  if balanced:
    uc.check_sums_to_one(w, name)
  else:
    uc.check_positive_mass(w, name)
  return jnp.asarray(w, dt)


def prepare_problem(
    cost: ArrayLike,
    a: Optional[ArrayLike] = None,
    b: Optional[ArrayLike] = None,
    *,
    balanced: bool = True,
) -> Tuple[jax.Array, jax.Array, jax.Array]:
  """Checks an OT problem and fills uniform weights.

  Args:
    cost: ``[n, m]`` cost matrix; must be finite.
    a: ``[n]`` source weights or None (uniform ``1/n``).
    b: ``[m]`` target weights or None (uniform ``1/m``).
    balanced: if True, ``a`` and ``b`` must each sum to 1.

  Returns:
    ``(cost, a, b)`` as arrays of one floating dtype.

  Raises:
    ValueError: wrong shapes, non-finite cost, negative/NaN weights, weights
      that do not sum to 1 for a balanced solver.
    TypeError: non-numeric input.
  """
  uc.check_floating_or_int(cost, "cost")
  uc.check_ndim(cost, 2, "cost")
  n, m = jnp.shape(cost)
  if n == 0 or m == 0:
    raise ValueError(f"cost must be non-empty, got shape {(n, m)}.")
  uc.check_finite(cost, "cost")
  dt = float_dtype(cost, a, b)
  cost = jnp.asarray(cost, dt)
  out = [prepare_weight(w, name, size, dt, matches=f"cost of shape {(n, m)}", balanced=balanced)
         for w, name, size in ((a, "a", n), (b, "b", m))]
  return cost, out[0], out[1]
