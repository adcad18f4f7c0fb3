"""Unbalanced entropic OT (Sinkhorn with KL marginal penalties).

``convention="entropy"`` (default; what the JUMBOT reference code ran with POT
0.7, and what POT >= 0.9.5 computes with ``reg_type="entropy"``)::

    UOT = min_{P >= 0} <P, C> + eps sum(P log P - P) + rho KL(P 1 | a) + rho KL(P^T 1 | b)

``convention="kl"`` (the formula of Fatras' thesis; POT ``reg_type="kl"``, the
POT default since 0.9.5)::

    UOT = min_{P >= 0} <P, C> + eps KL(P | a b^T) + rho KL(P 1 | a) + rho KL(P^T 1 | b)

``KL(p|q) = sum p log(p/q) - p + q``. Both are solved by the scalings
``u <- (a / (K v))^fi``, ``v <- (b / (K^T u))^fi`` with ``fi = rho / (rho + eps)``
and ``K = exp(-C/eps)`` (entropy) or ``K = a b^T exp(-C/eps)`` (kl).

Parameter mapping:

| wassml | POT ``sinkhorn_knopp_unbalanced`` | ott-jax ``LinearProblem`` |
|---|---|---|
| ``epsilon`` | ``reg`` | ``Geometry(epsilon=...)`` (absolute, pass explicitly) |
| ``rho`` | ``reg_m`` | ``tau_a = tau_b = rho / (rho + epsilon)`` |
| ``convention="entropy"`` | ``reg_type="entropy"`` | ott-jax's plan (default) |
| ``convention="kl"`` | ``reg_type="kl"`` (POT default) | — |
"""

from __future__ import annotations

import functools
from typing import Optional

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from wassml.ot.checks import prepare_problem
from wassml.ot.result import OTResult
from wassml.ot.sinkhorn import (_check_settings, _plan_kl, generalized_kl, plan_from_potentials,
                                scaling_solve, xlog_ratio)
from wassml.utils import checks as uc

CONVENTIONS = ("entropy", "kl")


@functools.partial(
    jax.jit,
    static_argnames=("convention", "num_iters", "tol", "mode", "check_every", "grad_mode"))
def _unbalanced(cost, a, b, epsilon, rho, convention, num_iters, tol, mode, check_every,
                grad_mode):
  eps = epsilon
  fi = rho / (rho + eps)
  sg = jax.lax.stop_gradient if grad_mode == "envelope" else (lambda x: x)
  ref_ab = convention == "kl"
  F, G, iters, err = scaling_solve(
      sg(cost), sg(a), sg(b), epsilon=sg(eps), fi=sg(fi), ref_ab=ref_ab, balanced=False,
      mode=mode, num_iters=num_iters, tol=tol, check_every=check_every, grad_mode=grad_mode)
  P = sg(plan_from_potentials(sg(cost), F, G, eps))
  if ref_ab:
    ref = a[:, None] * b[None, :]
    f = jnp.where(a > 0, F - eps * jnp.log(jnp.where(a > 0, a, 1.0)), 0.0)
    g = jnp.where(b > 0, G - eps * jnp.log(jnp.where(b > 0, b, 1.0)), 0.0)
  else:
    ref = None
    f = jnp.where(jnp.isfinite(F), F, 0.0)
    g = jnp.where(jnp.isfinite(G), G, 0.0)
  transport = jnp.sum(P * cost)
  # entropy: Omega(P) = sum P log P - P (POT's negative entropy, KL(P|11^T) - n m).
  reg = xlog_ratio(P, 1.0) - jnp.sum(P) if ref is None else _plan_kl(P, ref)
  objective = (transport + eps * reg
               + rho * generalized_kl(jnp.sum(P, 1), a)
               + rho * generalized_kl(jnp.sum(P, 0), b))
  return OTResult(cost=transport, plan=P, objective=objective, f=sg(f), g=sg(g),
                  converged=err <= tol, num_iters=iters)


def unbalanced_sinkhorn(
    cost: ArrayLike,
    a: Optional[ArrayLike] = None,
    b: Optional[ArrayLike] = None,
    *,
    epsilon: float,
    rho: float,
    convention: str = "entropy",
    num_iters: int = 1000,
    tol: float = 1e-6,
    mode: str = "auto",
    check_every: int = 10,
    grad_mode: str = "envelope",
) -> OTResult:
  """Unbalanced entropic OT (see the module docstring for the formulas).

  Args:
    cost: ``[n, m]`` finite cost matrix.
    a: ``[n]`` non-negative weights (any positive mass), uniform ``1/n`` if None.
    b: ``[m]`` non-negative weights, uniform ``1/m`` if None.
    epsilon: absolute entropic regularisation (POT ``reg``).
    rho: weight of the KL marginal penalties (POT ``reg_m``); ott-jax's
      ``tau = rho / (rho + epsilon)``.
    convention: ``"entropy"`` (default, POT ``reg_type="entropy"``, JUMBOT
      reference, ott-jax) or ``"kl"`` (``KL(P | a b^T)``, POT ``reg_type="kl"``).
    num_iters: maximum number of iterations (exact count with ``"unroll"``).
    tol: stop when the largest change of ``log u`` and ``log v`` over one
      iteration is ``<= tol``.
    mode: ``"auto"``, ``"kernel"`` or ``"log"`` (see :mod:`wassml.ot.sinkhorn`).
    check_every: test convergence every this many iterations.
    grad_mode: ``"envelope"`` (plan fixed: ``d objective / d C = P``,
      ``d cost / d C = P``) or ``"unroll"``. Weights with exact zeros: the envelope
      gradients are finite; the unrolled ones are not (the scaling ``b^(rho/(rho+eps))`` has an
      infinite derivative at 0), so give ``"unroll"`` strictly positive weights.

  Returns:
    :class:`OTResult`: ``cost = <P, C>``; ``objective`` the full unbalanced
    objective above (POT's ``log["total_cost"]``); ``f, g`` with
    ``P = ref * exp((f + g - C)/eps)``, ``ref = 1`` (entropy) or ``a b^T`` (kl).
  Examples:
    >>> import jax.numpy as jnp
    >>> from wassml import ot
    >>> cost = jnp.array([[0.0, 1.0], [1.0, 0.0]])
    >>> res = ot.unbalanced_sinkhorn(cost, jnp.array([0.5, 0.5]), jnp.array([0.9, 0.1]),
    ...                              epsilon=0.1, rho=0.1)
    >>> # b's excess on the first point is not moved across at cost 1: the marginals relax.
    >>> bool(res.plan[1, 0] < 1e-3), bool(abs(res.plan.sum(0)[0] - 0.9) > 0.1)
    (True, True)
  """
  cost, a, b = prepare_problem(cost, a, b, balanced=False)
  _check_settings(epsilon, mode, grad_mode, num_iters, check_every, cost)
  uc.check_positive_scalar(rho, "rho")
  if convention not in CONVENTIONS:
    raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}.")
  dt = cost.dtype
  return _unbalanced(cost, a, b, jnp.asarray(epsilon, dt), jnp.asarray(rho, dt), convention,
                     int(num_iters), float(tol), mode, int(check_every), grad_mode)
