"""Unbalanced entropic OT (Sinkhorn with KL marginal penalties).

``convention="entropy"`` (default; what the JUMBOT reference code ran with POT
0.7, and what POT >= 0.9.5 computes with ``reg_type="entropy"``)::

    UOT = min_{P >= 0} <P, C> + eps sum(P log P - P) + rho KL(P 1 | a) + rho KL(P^T 1 | b)

``convention="kl"`` (the formula of Fatras' thesis; POT ``reg_type="kl"``, the
POT default since 0.9.5)::

    UOT = min_{P >= 0} <P, C> + eps KL(P | a b^T) + rho KL(P 1 | a) + rho KL(P^T 1 | b)

``KL(p|q) = sum p log(p/q) - p + q``. ``rho_a, rho_b`` weigh the two marginals separately;
``rho = inf`` on one side keeps that marginal as a constraint (semi-relaxed OT). Both
conventions are solved by the scalings ``u <- (a / (K v))^fi``, ``v <- (b / (K^T u))^fi``
with ``fi = rho / (rho + eps)`` (``fi = 1`` on a constrained side) and ``K = exp(-C/eps)``
(entropy) or ``K = a b^T exp(-C/eps)`` (kl), run by :mod:`wassml.ot.scaling` (default
``mode="auto"``: log-stabilised, one code path under ``vmap``).

Parameter mapping:

| wassml | POT ``sinkhorn_knopp_unbalanced`` | ott-jax ``LinearProblem`` |
|---|---|---|
| ``epsilon`` | ``reg`` | ``Geometry(epsilon=...)`` (absolute, pass explicitly) |
| ``rho`` | ``reg_m`` | ``tau_a = tau_b = rho / (rho + epsilon)`` |
| ``rho_a, rho_b`` (``inf``: constrained) | ``reg_m=(rho_a, rho_b)`` | ``tau_a``, ``tau_b`` (``1``: constrained) |
| ``convention="entropy"`` | ``reg_type="entropy"`` | ott-jax's plan (default) |
| ``convention="kl"`` | ``reg_type="kl"`` (POT default) | — |
"""

from __future__ import annotations

import functools
import math
from typing import Optional, Tuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from wassml.ot import scaling
from wassml.ot.checks import prepare_problem
from wassml.ot.iteration import default_tol
from wassml.ot.result import OTResult
from wassml.ot.scaling import generalized_kl
from wassml.ot.sinkhorn import check_init
from wassml.utils import checks as uc
from wassml.utils import linalg

CONVENTIONS = ("entropy", "kl")


@functools.partial(
    jax.jit,
    static_argnames=("convention", "relax_a", "relax_b", "num_iters", "tol", "mode",
                     "check_every", "grad_mode", "epsilon_decay", "anneal"))
def _unbalanced(cost, a, b, epsilon, rho_a, rho_b, init, epsilon_start, convention, relax_a,
                relax_b, num_iters, tol, mode, check_every, grad_mode, epsilon_decay, anneal):
  eps = epsilon
  unroll = grad_mode == "unroll"
  sg = (lambda x: x) if unroll else jax.lax.stop_gradient
  ref_ab = convention == "kl"
  c_s, a_s, b_s = sg(cost), sg(a), sg(b)
  side_a = scaling.Side(relaxed=relax_a, rho=sg(rho_a) if relax_a else None)
  side_b = scaling.Side(relaxed=relax_b, rho=sg(rho_b) if relax_b else None)
  FG0 = None
  if init is not None:
    f0, g0 = init
    FG0 = (sg(f0) + (eps * scaling.safe_log(a_s) if ref_ab else 0.0),
           sg(g0) + (eps * scaling.safe_log(b_s) if ref_ab else 0.0))
  out = scaling.solve(
      c_s, a_s, b_s, epsilon=sg(eps), side_a=side_a, side_b=side_b, ref_ab=ref_ab, mode=mode,
      num_iters=num_iters, tol=tol, check_every=check_every, differentiable=unroll, init=FG0,
      epsilon_start=epsilon_start if anneal else None, epsilon_decay=epsilon_decay)
  P, F, G = out.plan, out.F, out.G

  def potential(Fx, w, relaxed, lse):
    if not ref_ab:
      # entropy reference: P = exp((f + g - C)/eps); an empty bin has f = -inf (its row of P
      # is 0), which the formula needs.
      return Fx
    pos = w > 0
    # a b^T reference: any value satisfies the formula at an empty bin. A constrained side
    # takes the soft c-transform (as the balanced solver), a relaxed side 0.
    fill = 0.0 if relaxed else -eps * lse
    return jnp.where(pos, Fx - eps * scaling.safe_log(jnp.where(pos, w, 1.0)), fill)

  f = potential(F, a_s, relax_a, out.row_lse)
  g = potential(G, b_s, relax_b, out.col_lse)

  def objective_of(C, A, B):
    reg = (scaling.plan_kl_ab(P, F, G, c_s, eps, A, B) if ref_ab else
           scaling.plan_entropy_terms(P, F, G, c_s, eps) - jnp.sum(P))
    val = jnp.sum(P * C) + eps * reg
    # Relaxed sides pay rho KL; constrained sides carry their multiplier (envelope d/da = f).
    val = val + (rho_a * generalized_kl(jnp.sum(P, 1), A) if relax_a else
                 linalg.matmul(jnp.where(A > 0, f, 0.0), A - jnp.sum(P, 1)))
    val = val + (rho_b * generalized_kl(jnp.sum(P, 0), B) if relax_b else
                 linalg.matmul(jnp.where(B > 0, g, 0.0), B - jnp.sum(P, 0)))
    return val

  if unroll:
    objective = objective_of(cost, a, b)
  else:
    # Value from the fixed plan; gradients: d/dC = P and the weights' derivative at fixed P.
    objective = objective_of(c_s, a, b)
    objective = objective + jnp.sum(P * (cost - c_s))
  return OTResult(transport_cost=jnp.sum(P * cost), plan=P, objective=objective, f=sg(f),
                  g=sg(g), converged=out.err <= tol, num_iters=out.iters, error=out.err)


def _resolve_rho(rho, rho_a, rho_b):
  """``(rho_a, rho_b)`` from ``rho`` and the per-side overrides; ``inf`` = a constrained side."""
  ra = rho if rho_a is None else rho_a
  rb = rho if rho_b is None else rho_b
  if ra is None or rb is None:
    raise ValueError("unbalanced_sinkhorn needs rho (both sides) or rho_a and rho_b; got "
                     f"rho={rho!r}, rho_a={rho_a!r}, rho_b={rho_b!r}.")
  out = []
  for name, r in (("rho_a" if rho_a is not None else "rho", ra),
                  ("rho_b" if rho_b is not None else "rho", rb)):
    c = uc.concrete(r)
    if c is not None and c.shape == () and math.isinf(float(c)) and float(c) > 0:
      out.append(math.inf)
      continue
    uc.check_positive_scalar(r, name)
    out.append(r)
  return out[0], out[1]


def unbalanced_sinkhorn(
    cost: ArrayLike,
    a: Optional[ArrayLike] = None,
    b: Optional[ArrayLike] = None,
    *,
    epsilon: float,
    rho: Optional[float] = None,
    rho_a: Optional[float] = None,
    rho_b: Optional[float] = None,
    convention: str = "entropy",
    num_iters: int = 1000,
    tol: Optional[float] = None,
    mode: str = "auto",
    check_every: int = 10,
    grad_mode: str = "envelope",
    init: Optional[Tuple[ArrayLike, ArrayLike]] = None,
    epsilon_start: Optional[float] = None,
    epsilon_decay: float = 0.5,
) -> OTResult:
  """Unbalanced (and semi-relaxed) entropic OT (see the module docstring for the formulas).

  Args:
    cost: ``[n, m]`` finite cost matrix.
    a: ``[n]`` non-negative weights (any positive mass), uniform ``1/n`` if None.
    b: ``[m]`` non-negative weights, uniform ``1/m`` if None.
    epsilon: absolute entropic regularisation (POT ``reg``).
    rho: weight of both KL marginal penalties (POT ``reg_m``); ott-jax's
      ``tau = rho / (rho + epsilon)``.
    rho_a, rho_b: per-side weights overriding ``rho`` (POT ``reg_m=(rho_a, rho_b)``, ott-jax
      ``tau_a, tau_b``). ``math.inf`` keeps that marginal as a hard constraint
      (semi-relaxed OT; ott-jax ``tau = 1``); then ``P 1 = a`` exactly and the side pays no
      penalty. Both infinite is the balanced problem (use :func:`wassml.ot.sinkhorn`).
      Whether a side is infinite is a static setting (decided eagerly); a traced rho is
      assumed finite.
    convention: ``"entropy"`` (default, POT ``reg_type="entropy"``, JUMBOT
      reference, ott-jax) or ``"kl"`` (``KL(P | a b^T)``, POT ``reg_type="kl"``).
    num_iters: maximum number of iterations, counted exactly (exact count with ``"unroll"``).
    tol: stop when the L1 mass that one more row update would move is ``<= tol`` (the
      shared criterion of :mod:`wassml.ot.scaling`); default 1e-5 (float32), 1e-9 (float64).
    mode: ``"auto"`` (default: log-stabilised scaling), ``"kernel"`` or ``"log"`` (see
      :mod:`wassml.ot.scaling`).
    check_every: test convergence every this many iterations.
    grad_mode: ``"envelope"`` (plan fixed: ``d objective / d C = P``,
      ``d transport_cost / d C = P``) or ``"unroll"``. Weights with exact zeros: the envelope
      gradients are finite; the unrolled ones are not (the scaling ``b^(rho/(rho+eps))`` has an
      infinite derivative at 0), so give ``"unroll"`` strictly positive weights.
    init: warm start ``(f, g)`` as returned in ``OTResult.f, .g``.
    epsilon_start, epsilon_decay: epsilon annealing, as in :func:`wassml.ot.sinkhorn`.

  Returns:
    :class:`OTResult`: ``transport_cost = <P, C>``; ``objective`` the full unbalanced
    objective above (POT's ``log["total_cost"]``); ``f, g`` with
    ``P = ref * exp((f + g - C)/eps)``, ``ref = 1`` (entropy) or ``a b^T`` (kl; and on a
    constrained side). With the ``entropy`` reference an empty bin (``a_i = 0``) has
    ``f_i = -inf``: its row of the plan is zero, which the formula needs.
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
  scaling.check_settings(epsilon, mode, grad_mode, num_iters, check_every, cost,
                         epsilon_start, epsilon_decay)
  ra, rb = _resolve_rho(rho, rho_a, rho_b)
  if convention not in CONVENTIONS:
    raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}.")
  relax_a = not (isinstance(ra, float) and math.isinf(ra))
  relax_b = not (isinstance(rb, float) and math.isinf(rb))
  if not relax_a and not relax_b:
    raise ValueError("rho_a and rho_b are both infinite: that is balanced OT; use "
                     "wassml.ot.sinkhorn (its weights must sum to 1).")
  init = check_init(init, *cost.shape)
  tol = default_tol(cost.dtype) if tol is None else float(tol)
  dt = cost.dtype
  anneal = epsilon_start is not None
  return _unbalanced(
      cost, a, b, jnp.asarray(epsilon, dt), jnp.asarray(ra if relax_a else 1.0, dt),
      jnp.asarray(rb if relax_b else 1.0, dt),
      None if init is None else tuple(jnp.asarray(x, dt) for x in init),
      jnp.asarray(epsilon_start if anneal else epsilon, dt), convention, relax_a, relax_b,
      int(num_iters), tol, mode, int(check_every), grad_mode, float(epsilon_decay), anneal)
