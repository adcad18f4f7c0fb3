"""Eager input checks that are skipped for tracers.

Every helper here inspects concrete values only: when an argument is a JAX
tracer (inside ``jit``, ``vmap`` or ``grad``) the value check is skipped, so the
helpers can be called at the top of any pure function without breaking tracing.
Shape checks always run, because shapes are static even under tracing.

Errors are ``ValueError`` (bad shape or value) or ``TypeError`` (bad type) with a
message that names the argument and the problem.

This is the one module of generic input checks; :mod:`wassml.ot.checks` builds the OT-problem
preparation (``prepare_problem``: cost and weights) on it.
"""

from __future__ import annotations

from typing import Any, Optional

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


def check_ground_cost(ground_cost, num_classes: Optional[int] = None) -> None:
  """Raises ValueError unless ``ground_cost`` is a valid ``[K, K]`` class ground cost.

  The one check of a cost between classes, used by :func:`wassml.ot.label_ot` (exported as
  ``wassml.ot.check_ground_cost``) and by every cost of
  :mod:`wassml.regularization.ground_cost`. Valid: square ``[K, K]`` (and ``K = num_classes``
  when given), finite, non-negative, zero diagonal. The shape checks always run; the value
  checks only on concrete arrays.

  Args:
    ground_cost: ``[K, K]`` matrix of costs between classes.
    num_classes: the expected ``K``; ``None`` accepts any square matrix.

  Raises:
    ValueError: if the matrix is not square ``[K, K]`` (or ``K != num_classes``), has
      non-finite or negative entries, or a non-zero diagonal.
  """
  check_ndim(ground_cost, 2, "ground_cost")
  k1, k2 = np.shape(ground_cost)
  if k1 != k2:
    raise ValueError(f"ground_cost must be square [K, K], got shape {(k1, k2)}.")
  if num_classes is not None and k1 != num_classes:
    raise ValueError(
        f"ground_cost is {k1}x{k1} but the probability vectors have K={num_classes} classes.")
  check_finite(ground_cost, "ground_cost")
  check_nonnegative(ground_cost, "ground_cost")
  c = concrete(ground_cost)
  if c is not None and np.any(np.abs(np.diag(c)) > 1e-6):
    raise ValueError(
        "ground_cost must have a zero diagonal (moving mass within a class is free); "
        f"its diagonal is {np.diag(c)!r}.")


def check_same_feature_shape(x_s: Any, x_t: Any) -> None:
  """Raises ValueError when two batches ``[n, ...]`` and ``[m, ...]`` (source and target
  examples) have different feature shapes ``...`` (static, so it also runs under jit)."""
  s, t = tuple(np.shape(x_s))[1:], tuple(np.shape(x_t))[1:]
  if s != t:
    raise ValueError(
        f"source and target examples must have the same feature shape; got source {s} "
        f"(batch shape {tuple(np.shape(x_s))}) and target {t} (batch shape {tuple(np.shape(x_t))}).")


def check_labels(labels: Any, num_classes: int, name: str = "labels") -> None:
  """Raises unless ``labels`` is a 1-D integer array with values in ``[0, num_classes)``.

  The rank check always runs; the dtype and range checks only on concrete arrays.

  Raises:
    ValueError: not 1-D, or a label outside ``[0, num_classes)``.
    TypeError: non-integer labels.
  """
  if np.ndim(labels) != 1:
    raise ValueError(f"{name} must be a 1-D integer array [n], got shape {np.shape(labels)}.")
  lab = concrete(labels)
  if lab is None or lab.size == 0:
    return
  if not np.issubdtype(lab.dtype, np.integer):
    raise TypeError(f"{name} must be integers, got dtype {lab.dtype}.")
  lo, hi = int(lab.min()), int(lab.max())
  if lo < 0 or hi >= num_classes:
    raise ValueError(
        f"class count mismatch: {name} span [{lo}, {hi}] but the classifier has "
        f"{num_classes} outputs (labels must lie in [0, {num_classes})).")
