"""Eager input checks that are skipped for tracers.

Every helper here inspects concrete values only: when an argument is a JAX
tracer (inside ``jit``, ``vmap`` or ``grad``) the value check is skipped, so the
helpers can be called at the top of any pure function without breaking tracing.
Shape checks always run, because shapes are static even under tracing.

Errors are ``ValueError`` (bad shape or value) or ``TypeError`` (bad type) with a
message that names the argument and the problem.
"""

from __future__ import annotations

from typing import Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np


def is_tracer(x) -> bool:
  """Returns True when ``x`` is an abstract JAX value (inside jit/vmap/grad)."""
  return isinstance(x, jax.core.Tracer)


def concrete(x) -> Optional[np.ndarray]:
  """Returns ``x`` as a numpy array, or None when it is a tracer."""
  if is_tracer(x):
    return None
  return np.asarray(x)


def check_ndim(x, ndim: int, name: str) -> None:
  """Raises ValueError unless ``x`` has ``ndim`` dimensions."""
  shape = np.shape(x)
  if len(shape) != ndim:
    raise ValueError(f"{name} must have {ndim} dimension(s), got shape {tuple(shape)}.")


def check_shape(x, shape: Sequence[int], name: str) -> None:
  """Raises ValueError unless ``x`` has exactly ``shape``."""
  got = tuple(np.shape(x))
  if got != tuple(shape):
    raise ValueError(f"{name} must have shape {tuple(shape)}, got {got}.")


def check_floating_or_int(x, name: str) -> None:
  """Raises TypeError unless ``x`` holds real numbers."""
  dtype = jnp.result_type(x)
  if not (jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer)
          or jnp.issubdtype(dtype, jnp.bool_)):
    raise TypeError(f"{name} must hold real numbers, got dtype {dtype}.")


def check_finite(x, name: str) -> None:
  """Raises ValueError if a concrete ``x`` contains NaN or infinity."""
  v = concrete(x)
  if v is None:
    return
  if not np.all(np.isfinite(v)):
    bad = int(np.size(v) - np.count_nonzero(np.isfinite(v)))
    raise ValueError(f"{name} must be finite, but it contains {bad} NaN or infinite value(s).")


def check_nonnegative(x, name: str) -> None:
  """Raises ValueError if a concrete ``x`` has a negative or NaN entry."""
  v = concrete(x)
  if v is None:
    return
  if np.any(np.isnan(v)):
    raise ValueError(f"{name} contains NaN.")
  if np.any(v < 0):
    raise ValueError(f"{name} must be non-negative, but its smallest entry is {v.min()!r}.")


def check_positive_scalar(x, name: str) -> None:
  """Raises ValueError unless a concrete scalar ``x`` is finite and > 0."""
  v = concrete(x)
  if v is None:
    return
  if np.ndim(v) != 0:
    raise ValueError(f"{name} must be a scalar, got shape {np.shape(v)}.")
  if not np.isfinite(v) or v <= 0:
    raise ValueError(f"{name} must be a finite positive number, got {v!r}.")


def check_sums_to_one(x, name: str, *, atol: float = 1e-4, axis=None) -> None:
  """Raises ValueError if a concrete ``x`` does not sum to 1 (within ``atol``)."""
  v = concrete(x)
  if v is None:
    return
  s = np.sum(v.astype(np.float64), axis=axis)
  if np.any(np.abs(s - 1.0) > atol):
    worst = np.ravel(s)[np.argmax(np.ravel(np.abs(s - 1.0)))]
    raise ValueError(
        f"{name} must sum to 1 (a probability vector) for the balanced solvers; it sums to "
        f"{float(worst)!r}. Normalise it or use unbalanced_sinkhorn.")


def check_positive_mass(x, name: str) -> None:
  """Raises ValueError if a concrete ``x`` has zero total mass."""
  v = concrete(x)
  if v is None:
    return
  if not np.sum(v) > 0:
    raise ValueError(f"{name} must have positive total mass, got sum {float(np.sum(v))!r}.")
