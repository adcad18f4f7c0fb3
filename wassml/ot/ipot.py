"""IPOT: inexact proximal point OT (Xie et al. 2018; Ducoffe thesis, Alg. 2).

Proximal point iterations on the exact OT problem with a KL proximity term::

    T^{t+1} = argmin_{T in U(a, b)} <T, C> + beta KL(T | T^t)

Each step is a Sinkhorn problem with kernel ``Q = G * T^t``, ``G = exp(-C/beta)``,
solved inexactly with ``inner_iters`` scaling updates (Alg. 2)::

    Q <- G * T;  repeat inner_iters: u <- a / (Q v);  v <- b / (Q^T u)
    T <- diag(u) Q diag(v)

Unlike Sinkhorn it converges to the exact OT plan for any ``beta`` (linearly).
"""

from __future__ import annotations

import functools
from typing import Optional

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from wassml.ot.checks import prepare_problem
from wassml.ot.result import OTResult
from wassml.utils import checks as uc
from wassml.utils import linalg


def _safe_div(w, x):
  """``w / x`` with ``0 / x = 0`` (an empty bin's scaling is 0, not ``0/0``)."""
  return jnp.where(w > 0, w / jnp.where(w > 0, x, 1.0), 0.0)


@functools.partial(jax.jit, static_argnames=("num_iters", "inner_iters"))
def _ipot(cost, a, b, beta, num_iters, inner_iters):
  c = jax.lax.stop_gradient(cost)
  G = jnp.exp(-c / beta)

  def outer(_, s):
    T, v = s
    Q = G * T

    def inner(_, uv):
      _, v = uv
      u = _safe_div(a, linalg.matmul(Q, v))
      v = _safe_div(b, linalg.matmul(Q.T, u))
      return u, v

    u, v = jax.lax.fori_loop(0, inner_iters, inner, (jnp.ones_like(a), v))
    T = u[:, None] * Q * v[None, :]
    return T, v

  n, m = cost.shape
  T0 = jnp.ones((n, m), cost.dtype)
  T, v = jax.lax.fori_loop(0, num_iters, outer, (T0, jnp.full((m,), 1.0 / m, cost.dtype)))
  T = jax.lax.stop_gradient(T)
  err = jnp.sum(jnp.abs(jnp.sum(T, 1) - a)) + jnp.sum(jnp.abs(jnp.sum(T, 0) - b))
  value = jnp.sum(T * cost)
  logv = beta * jnp.log(jnp.maximum(v, jnp.finfo(v.dtype).tiny))
  return OTResult(transport_cost=value, plan=T, objective=value, f=jnp.zeros_like(a),
                  g=jax.lax.stop_gradient(logv), converged=err <= 1e-3,
                  num_iters=jnp.asarray(num_iters), error=err)


def ipot(
    cost: ArrayLike,
    a: Optional[ArrayLike] = None,
    b: Optional[ArrayLike] = None,
    *,
    beta: float = 1.0,
    num_iters: int = 100,
    inner_iters: int = 1,
) -> OTResult:
  """Exact OT approximated by IPOT (proximal point with KL, Alg. 2 of 002).

  Args:
    cost: ``[n, m]`` finite cost (best normalised, e.g. by its max: ``beta`` is
      absolute and ``exp(-C/beta)`` must not underflow).
    a: ``[n]`` probability vector or None (uniform).
    b: ``[m]`` probability vector or None (uniform).
    beta: proximal step (KL weight); Xie et al. use 1 on normalised costs.
    num_iters: outer proximal iterations.
    inner_iters: Sinkhorn updates per proximal step (1 in Alg. 2).

  Returns:
    :class:`OTResult` with ``transport_cost = objective = <T, C>``, ``plan = T``,
    ``f = 0``, ``g = beta log v`` (last column scaling), ``converged`` when the
    L1 marginal error (``error``, both marginals) is below 1e-3, ``num_iters``.
    ``d transport_cost / d C = T``. Weights with zeros are allowed: an empty bin's scaling is
    0 (its row or column of ``T`` is zero), not ``0/0``.
  """
  cost, a, b = prepare_problem(cost, a, b, balanced=True)
  uc.check_positive_scalar(beta, "beta")
  if int(num_iters) < 1 or int(inner_iters) < 1:
    raise ValueError(
        f"num_iters and inner_iters must be >= 1, got {num_iters!r}, {inner_iters!r}.")
  return _ipot(cost, a, b, jnp.asarray(beta, cost.dtype), int(num_iters), int(inner_iters))
