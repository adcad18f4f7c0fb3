"""Eager input checks for the clustering family (skipped on tracers, so they cost nothing in jit)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike


def _is_tracer(x) -> bool:
  return isinstance(x, jax.core.Tracer)


def check_data(x: ArrayLike, *, k: int | None = None, name: str = "x") -> jax.Array:
  """Returns ``x`` as a float32 ``[n, d]`` array after checking shape, finiteness and ``k <= n``.

  Raises:
    ValueError: ``x`` is not 2-D, is empty, holds NaN/inf, or has fewer points than ``k``.
  """
  if _is_tracer(x):
    return x
  arr = np.asarray(x)
  if arr.ndim != 2:
    raise ValueError(f"{name} must be a 2-D array [n, d], got shape {arr.shape}.")
  if arr.shape[0] == 0:
    raise ValueError(f"{name} is empty (shape {arr.shape}).")
  if not np.issubdtype(arr.dtype, np.number):
    raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}.")
  bad = ~np.isfinite(arr)
  if bad.any():
    rows = np.unique(np.nonzero(bad)[0])
    raise ValueError(f"{name} contains NaN or inf in {len(rows)} row(s) (first: {rows[:5].tolist()}); "
                     "clean or impute the data before clustering.")
  if k is not None:
    check_num_clusters(k, arr.shape[0])
  return jnp.asarray(arr, jnp.float32)


def check_num_clusters(k: int, n: int) -> None:
  """Raises ``ValueError`` unless ``1 <= k <= n``."""
  if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
    raise TypeError(f"The number of clusters K must be an int, got {type(k).__name__}.")
  if k < 1:
    raise ValueError(f"The number of clusters K must be >= 1, got {k}.")
  if k > n:
    raise ValueError(f"The number of clusters K={k} is larger than the number of points n={n}.")


def check_code_dim(code_dim: int, input_dim: int) -> None:
  """Raises ``ValueError`` when the code dimension exceeds the input dimension."""
  if code_dim < 1:
    raise ValueError(f"code_dim must be >= 1, got {code_dim}.")
  if code_dim > input_dim:
    raise ValueError(f"code_dim={code_dim} is larger than the input dimension {input_dim}: an "
                     "auto-encoder needs a bottleneck (code_dim <= input dimension).")
