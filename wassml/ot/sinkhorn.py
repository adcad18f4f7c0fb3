"""Entropic OT by Sinkhorn scaling (balanced).

Balanced problem (``a``, ``b`` probability vectors)::

    OT_eps(a, b, C) = min_{P >= 0, P 1 = a, P^T 1 = b}  <P, C> + eps KL(P | a b^T)

with the generalised ``KL(P|Q) = sum P log(P/Q) - P + Q``. The optimal plan is
``P_ij = a_i b_j exp((f_i + g_j - C_ij) / eps)`` for dual potentials ``f, g``.
The plan equals POT's ``ot.sinkhorn`` and ott-jax's ``LinearProblem`` plan for
the same absolute ``eps`` (POT regularises with ``-H(P)``, which differs from
``KL(P|ab)`` by a constant on the balanced feasible set, so only the objective
value differs, not the plan; ``.transport_cost`` equals ``ot.sinkhorn2``).

The iterations, their three modes (``"auto"``: log-stabilised scaling, the default and the
fast path under ``jit`` and ``vmap``; ``"kernel"``; ``"log"``), epsilon annealing and warm
start are those of :mod:`wassml.ot.scaling`.

| wassml | POT | ott-jax |
|---|---|---|
| ``epsilon`` (absolute) | ``reg`` | ``Geometry(epsilon=...)`` (pass it: ott's default is relative) |
| ``tol`` (L1 row-marginal error) | ``stopThr`` (L2 column error) | ``threshold`` |
| ``num_iters`` (hard maximum) | ``numItermax`` | ``max_iterations`` |
| ``epsilon_start``, ``epsilon_decay`` | ``ot.bregman.sinkhorn_epsilon_scaling`` | ``epsilon_scheduler.Epsilon(init=, decay=)`` |
| ``init=(f, g)`` | ``warmstart=(log u, log v)`` | ``init=(f, g)`` |
| ``mode="log"`` | ``method="sinkhorn_log"`` | ``lse_mode=True`` |
| ``mode="kernel"`` | ``method="sinkhorn"`` | ``lse_mode=False`` |
"""

from __future__ import annotations

import functools
from typing import Optional, Tuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from wassml.ot import scaling
from wassml.ot.checks import prepare_problem
from wassml.ot.iteration import default_tol
from wassml.ot.result import OTResult
from wassml.ot.scaling import GRAD_MODES, MODES, kernel_safe_ratio  # noqa: F401  (re-exported)
from wassml.utils import linalg

BALANCED = scaling.Side(relaxed=False, rho=None)


def envelope(value, plan, cost, da=None, a=None, db=None, b=None):
  """``value`` with the envelope-theorem gradients: ``d/dC = plan``, ``d/da = da``,
  ``d/db = db`` (all held fixed). The returned number equals ``value``."""
  sg = jax.lax.stop_gradient
  out = sg(value) + jnp.sum(sg(plan) * (cost - sg(cost)))
  if da is not None:
    out = out + linalg.matmul(sg(da), a - sg(a))
  if db is not None:
    out = out + linalg.matmul(sg(db), b - sg(b))
  return out


@functools.partial(
    jax.jit, static_argnames=("num_iters", "tol", "mode", "check_every", "grad_mode",
                              "epsilon_decay", "anneal"))
def _sinkhorn(cost, a, b, epsilon, init, epsilon_start, num_iters, tol, mode, check_every,
              grad_mode, epsilon_decay, anneal):
  eps = epsilon
  unroll = grad_mode == "unroll"
  sg = (lambda x: x) if unroll else jax.lax.stop_gradient
  c_s, a_s, b_s = sg(cost), sg(a), sg(b)
  FG0 = None
  if init is not None:
    f0, g0 = init
    FG0 = (sg(f0) + eps * scaling.safe_log(a_s), sg(g0) + eps * scaling.safe_log(b_s))
  out = scaling.solve(
      c_s, a_s, b_s, epsilon=sg(eps), side_a=BALANCED, side_b=BALANCED, ref_ab=True, mode=mode,
      num_iters=num_iters, tol=tol, check_every=check_every, differentiable=unroll, init=FG0,
      epsilon_start=epsilon_start if anneal else None, epsilon_decay=epsilon_decay)
  P, F, G = out.plan, out.F, out.G
  # Potentials w.r.t. the reference a b^T: P = a b^T exp((f + g - C)/eps). Where a weight is
  # zero its scaling is 0 (F = -inf); its potential is the soft c-transform of the other
  # side's (the value every potential takes at convergence), so that d objective / d b_j = g_j
  # holds at b_j = 0 too (a class of probability 0, a masked point) instead of a NaN or a 0.
  f = jnp.where(a_s > 0, F - eps * scaling.safe_log(jnp.where(a_s > 0, a_s, 1.0)),
                -eps * out.row_lse)
  g = jnp.where(b_s > 0, G - eps * scaling.safe_log(jnp.where(b_s > 0, b_s, 1.0)),
                -eps * out.col_lse)
  # The objective at the fixed plan. Unrolled: a function of (C, a, b) through the iterations.
  # Envelope: its value from stopped arrays, with d/dC = P, d/da = f, d/db = g attached.
  C_, A_, B_ = (cost, a, b) if unroll else (c_s, a_s, b_s)
  kl = scaling.plan_kl_ab(P, F, G, C_, eps, A_, B_)
  objective = (jnp.sum(P * C_) + eps * kl + linalg.matmul(f, A_ - jnp.sum(P, 1))
               + linalg.matmul(g, B_ - jnp.sum(P, 0)))
  if not unroll:
    objective = envelope(objective, P, cost, f, a, g, b)
  return OTResult(transport_cost=jnp.sum(P * cost), plan=P, objective=objective, f=f, g=g,
                  converged=out.err <= tol, num_iters=out.iters, error=out.err)


def check_init(init, n, m, name="init"):
  """Checks a warm start ``(f [n], g [m])``; returns it as a tuple of arrays or None."""
  if init is None:
    return None
  if not (isinstance(init, (tuple, list)) and len(init) == 2):
    raise ValueError(f"{name} must be a pair (f, g) of potentials, got {type(init).__name__}.")
  f, g = init
  if jnp.shape(f) != (n,) or jnp.shape(g) != (m,):
    raise ValueError(f"{name} must be (f [{n}], g [{m}]) to match the cost, got shapes "
                     f"{tuple(jnp.shape(f))} and {tuple(jnp.shape(g))}.")
  return jnp.asarray(f), jnp.asarray(g)


def sinkhorn(
    cost: ArrayLike,
    a: Optional[ArrayLike] = None,
    b: Optional[ArrayLike] = None,
    *,
    epsilon: float,
    num_iters: int = 1000,
    tol: Optional[float] = None,
    mode: str = "auto",
    check_every: int = 10,
    grad_mode: str = "envelope",
    init: Optional[Tuple[ArrayLike, ArrayLike]] = None,
    epsilon_start: Optional[float] = None,
    epsilon_decay: float = 0.5,
) -> OTResult:
  """Balanced entropic OT (Sinkhorn).

  Solves ``min_{P 1 = a, P^T 1 = b} <P, C> + eps KL(P | a b^T)``.

  Args:
    cost: ``[n, m]`` finite cost matrix.
    a: ``[n]`` probability vector, uniform if None.
    b: ``[m]`` probability vector, uniform if None.
    epsilon: absolute entropic regularisation (POT's ``reg``, ott-jax's
      ``epsilon``; NOT relative to the mean cost).
    num_iters: maximum number of Sinkhorn iterations (one iteration updates both scalings),
      a hard bound counted exactly. With ``grad_mode="unroll"`` exactly this many run.
    tol: stop when the L1 row-marginal error ``||P 1 - a||_1 <= tol`` (the columns are exact
      after each iteration); default 1e-5 (float32) or 1e-9 (float64).
    mode: ``"auto"`` (default: log-stabilised scaling, stable at any ``epsilon``, one code path
      under ``jit`` and ``vmap``), ``"kernel"`` or ``"log"`` (see :mod:`wassml.ot.scaling`).
      ``"kernel"`` raises on a concrete cost where it would underflow; under ``jit`` with a
      traced cost it is the caller's promise that ``max|C|/epsilon`` is moderate (float32: <
      50).
    check_every: test convergence every this many iterations (and after the last one).
    grad_mode: ``"envelope"`` (default): the plan and potentials are held fixed
      and gradients follow the envelope theorem: ``d objective / d C = P``,
      ``d objective / d a = f``, ``d objective / d b = g``, and
      ``d transport_cost / d C = P``. ``"unroll"``: back-propagate through exactly
      ``num_iters`` iterations (as the WAR reference code does).
    init: warm start ``(f [n], g [m])``, potentials as returned in ``OTResult.f, .g`` (e.g.
      of a nearby problem).
    epsilon_start: if given (``> epsilon``, ``mode="auto"``), epsilon annealing: blocks of
      ``check_every`` iterations at ``max(epsilon, epsilon_start * epsilon_decay^k)``, then
      iterations at ``epsilon`` until ``tol``; all count towards ``num_iters``.
    epsilon_decay: the annealing factor in ``(0, 1)``.

  Returns:
    :class:`OTResult` with ``transport_cost = <P, C>`` (as ``ot.sinkhorn2``),
    ``objective = <P, C> + eps KL(P | a b^T)``, potentials ``f: [n]``,
    ``g: [m]`` with ``P = a b^T exp((f + g - C)/eps)``, ``converged``,
    ``num_iters``, ``error`` (the last L1 marginal error).

  Under ``jit`` a cost or weight with NaN gives NaN outputs and ``converged=False`` after at
  most ``num_iters`` iterations (never a hang); eagerly it raises.

  Examples:
    >>> import jax.numpy as jnp
    >>> from wassml import ot
    >>> cost = jnp.array([[0.0, 1.0], [1.0, 0.0]])
    >>> res = ot.sinkhorn(cost, epsilon=0.1)
    >>> round(float(res.plan.sum()), 4), round(float(res.transport_cost), 4)
    (1.0, 0.0)
  """
  cost, a, b = prepare_problem(cost, a, b, balanced=True)
  scaling.check_settings(epsilon, mode, grad_mode, num_iters, check_every, cost,
                         epsilon_start, epsilon_decay)
  init = check_init(init, *cost.shape)
  tol = default_tol(cost.dtype) if tol is None else float(tol)
  dt = cost.dtype
  anneal = epsilon_start is not None
  return _sinkhorn(cost, a, b, jnp.asarray(epsilon, dt),
                   None if init is None else tuple(jnp.asarray(x, dt) for x in init),
                   jnp.asarray(epsilon_start if anneal else epsilon, dt), int(num_iters), tol,
                   mode, int(check_every), grad_mode, float(epsilon_decay), anneal)
