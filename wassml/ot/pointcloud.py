"""Point-cloud convenience forms: build the ground cost, then call a solver."""

from __future__ import annotations

from typing import Callable, Optional

import jax.numpy as jnp
from jax.typing import ArrayLike

from wassml.ot.costs import euclidean_power
from wassml.ot.exact import emd
from wassml.ot.result import OTResult

Solver = Callable[..., OTResult]


def wasserstein(
    x: ArrayLike,
    y: ArrayLike,
    a: Optional[ArrayLike] = None,
    b: Optional[ArrayLike] = None,
    *,
    p: float = 2.0,
    solver: Solver = emd,
    return_output: bool = False,
):
  """``W_p(mu, nu) = OT(a, b, D^p)^(1/p)`` between point clouds.

  Args:
    x: ``[n, d]`` support of ``mu``.
    y: ``[m, d]`` support of ``nu``.
    a: ``[n]`` weights or None (uniform).
    b: ``[m]`` weights or None (uniform).
    p: exponent >= 1 of the Euclidean ground distance.
    solver: ``solver(cost, a, b) -> OTResult``; the transport cost ``.transport_cost``
      is used (exact by default).
    return_output: also return the solver's :class:`OTResult`.

  Returns:
    scalar ``W_p``; with ``return_output=True``, ``(W_p, OTResult)`` (the result of the
    ``D^p`` problem, so its ``transport_cost`` is ``W_p^p``).
  """
  if not p >= 1:
    raise ValueError(f"p must be >= 1, got {p!r}.")
  cost = euclidean_power(x, y, p)
  res = solver(cost, a, b)
  value = jnp.maximum(res.transport_cost, 0.0) ** (1.0 / p)
  return (value, res) if return_output else value


def pointcloud_ot(
    x: ArrayLike,
    y: ArrayLike,
    a: Optional[ArrayLike] = None,
    b: Optional[ArrayLike] = None,
    *,
    solver: Solver = emd,
    p: float = 2.0,
) -> OTResult:
  """Solves OT between point clouds with cost ``||x_i - y_j||^p`` (default squared
  Euclidean). ``x: [n, d]``, ``y: [m, d]``; returns the solver's :class:`OTResult`."""
  return solver(euclidean_power(x, y, p), a, b)
