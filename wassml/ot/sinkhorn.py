"""Entropic OT by Sinkhorn scaling (balanced), and the scaling core shared with
the unbalanced solver.

Balanced problem (``a``, ``b`` probability vectors)::

    OT_eps(a, b, C) = min_{P >= 0, P 1 = a, P^T 1 = b}  <P, C> + eps KL(P | a b^T)

with the generalised ``KL(P|Q) = sum P log(P/Q) - P + Q``. The optimal plan is
``P_ij = a_i b_j exp((f_i + g_j - C_ij) / eps)`` for dual potentials ``f, g``.
The plan equals POT's ``ot.sinkhorn`` and ott-jax's ``LinearProblem`` plan for
the same absolute ``eps`` (POT regularises with ``-H(P)``, which differs from
``KL(P|ab)`` by a constant on the balanced feasible set, so only the objective
value differs, not the plan; ``.cost`` equals ``ot.sinkhorn2``).

Two numerical modes:
- ``"kernel"``: ``u <- a / (K v)``, ``v <- b / (K^T u)`` with ``K = exp(-C/eps)``;
  two mat-vecs per iteration, fastest, but ``K`` underflows when ``C/eps`` is
  large (float32: beyond ~80).
- ``"log"``: the same updates on ``f = eps log u`` with ``logsumexp``; stable
  for any ``eps`` but computes ``n m`` exponentials per iteration.
- ``"auto"`` picks ``"kernel"`` when ``max|C| / eps`` is below a dtype bound
  (float32: 50, float64: 500) and ``"log"`` otherwise (a ``lax.cond``; under
  ``vmap`` both branches run, so pass the mode explicitly in vmapped hot loops).
"""

from __future__ import annotations

import functools
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp
from jax.typing import ArrayLike

from wassml.ot.checks import prepare_problem
from wassml.ot.result import OTResult
from wassml.utils import checks as uc
from wassml.utils import linalg

MODES = ("auto", "kernel", "log")
GRAD_MODES = ("envelope", "unroll")


def kernel_safe_ratio(dtype) -> float:
  """Largest ``max|C|/eps`` for which ``"auto"`` uses the kernel mode."""
  return 50.0 if jnp.finfo(dtype).bits <= 32 else 500.0


def default_tol(dtype) -> float:
  return 1e-5 if jnp.finfo(dtype).bits <= 32 else 1e-9


def xlog_ratio(p: jax.Array, q: jax.Array | float) -> jax.Array:
  """``sum p log(p/q)`` with ``0 log(0/q) = 0``, differentiable at ``p = 0``.

  ``xlogy``'s gradients there are ``p / q = 0/0`` (in ``q``) and ``log p = -inf`` times a zero
  tangent (in ``p``): NaN wherever a weight is exactly 0 (a class of probability 0, a plan entry
  that underflowed). The logs are taken of masked values instead, and masked entries add nothing.
  """
  pos = p > 0
  p_safe = jnp.where(pos, p, 1.0)
  q_safe = jnp.where(pos, q, 1.0)
  return jnp.sum(jnp.where(pos, p * (jnp.log(p_safe) - jnp.log(q_safe)), 0.0))


def generalized_kl(p: jax.Array, q: jax.Array) -> jax.Array:
  """``KL(p|q) = sum p log(p/q) - p + q`` (elementwise, summed; ``0 log(0/q) = 0``)."""
  return xlog_ratio(p, q) + jnp.sum(q - p)


def _plan_kl(P: jax.Array, ref: jax.Array) -> jax.Array:
  """``KL(P | ref)`` for a plan that is zero wherever ``ref = a b^T`` is. Those entries add
  nothing, to the value or to the gradient: their ``ref - P`` would add ``d/db_j = sum_i a_i``,
  which the limit ``b_j -> 0`` does not have."""
  return xlog_ratio(P, ref) + jnp.sum(jnp.where(ref > 0, ref - P, 0.0))


def _check_settings(epsilon, mode, grad_mode, num_iters, check_every, cost=None):
  uc.check_positive_scalar(epsilon, "epsilon")
  if mode == "kernel" and cost is not None:
    c = uc.concrete(cost)
    e = uc.concrete(epsilon)
    if c is not None and e is not None:
      ratio = float(np.max(np.abs(c))) / float(e)
      if ratio >= kernel_safe_ratio(c.dtype):
        raise ValueError(
            f"mode='kernel' would underflow: max|cost|/epsilon = {ratio:.3g} >= "
            f"{kernel_safe_ratio(c.dtype)} for {c.dtype}. Use mode='auto' or mode='log'.")
  if mode not in MODES:
    raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
  if grad_mode not in GRAD_MODES:
    raise ValueError(f"grad_mode must be one of {GRAD_MODES}, got {grad_mode!r}.")
  if int(num_iters) < 1:
    raise ValueError(f"num_iters must be >= 1, got {num_iters!r}.")
  if int(check_every) < 1:
    raise ValueError(f"check_every must be >= 1, got {check_every!r}.")


def scaling_solve(cost, a, b, *, epsilon, fi, ref_ab, balanced, mode, num_iters,
                  tol, check_every, grad_mode):
  """Runs (unbalanced) Sinkhorn scalings; returns log-scalings and diagnostics.

  Solves for ``P = diag(u) K0 diag(v)``, ``K0 = exp(-C/eps)``, with the updates
  ``u <- a^pa (K0 v)^(-fi)``, ``v <- b^pa (K0^T u)^(-fi)`` where ``pa = 1`` if
  the entropic reference is ``a b^T`` (``ref_ab``) and ``pa = fi`` otherwise.
  ``fi = 1`` is balanced Sinkhorn; ``fi = rho/(rho+eps)`` is unbalanced.

  Returns:
    ``(F, G, iters, err)`` with ``F = eps log u: [n]``, ``G = eps log v: [m]``.
    ``err`` is the L1 row-marginal error (balanced) or the largest change of
    ``log u, log v`` over the last iteration (unbalanced).
  """
  eps = epsilon
  pa = 1.0 if ref_ab else fi
  dt = cost.dtype
  log_a = jnp.where(a > 0, jnp.log(jnp.where(a > 0, a, 1.0)), -jnp.inf)
  log_b = jnp.where(b > 0, jnp.log(jnp.where(b > 0, b, 1.0)), -jnp.inf)

  def power(x, e):
    return x if (isinstance(e, float) and e == 1.0) else x ** e

  # ---------------- kernel mode ----------------
  def kernel_run():
    K = jnp.exp(-cost / eps)
    a_pa = power(a, pa)
    b_pa = power(b, pa)

    def it(uv):
      u, v = uv
      u = a_pa * power(1.0 / linalg.matmul(K, v), fi)
      v = b_pa * power(1.0 / linalg.matmul(K.T, u), fi)
      return u, v

    def err_fn(u_old, v_old, u, v):
      if balanced:
        return jnp.sum(jnp.abs(u * linalg.matmul(K, v) - a))
      du = jnp.max(jnp.abs(jnp.log(jnp.where(a > 0, u / jnp.where(a > 0, u_old, 1.0), 1.0))))
      dv = jnp.max(jnp.abs(jnp.log(jnp.where(b > 0, v / jnp.where(b > 0, v_old, 1.0), 1.0))))
      return jnp.maximum(du, dv)

    init = (jnp.ones_like(a), jnp.ones_like(b))
    (u, v), iters, err = _loop(it, err_fn, init, num_iters, tol, check_every, grad_mode, dt)
    F = eps * jnp.where(u > 0, jnp.log(jnp.where(u > 0, u, 1.0)), -jnp.inf)
    G = eps * jnp.where(v > 0, jnp.log(jnp.where(v > 0, v, 1.0)), -jnp.inf)
    return F, G, iters, err

  # ---------------- log mode ----------------
  def log_run():
    Ce = cost / eps

    def it(FG):
      F, G = FG
      F = eps * (pa * log_a - fi * logsumexp(G[None, :] / eps - Ce, axis=1))
      G = eps * (pa * log_b - fi * logsumexp(F[:, None] / eps - Ce, axis=0))
      return F, G

    def err_fn(F_old, G_old, F, G):
      if balanced:
        rows = jnp.exp(F / eps + logsumexp(G[None, :] / eps - Ce, axis=1))
        return jnp.sum(jnp.abs(rows - a))
      dF = jnp.max(jnp.where(a > 0, jnp.abs(F - F_old), 0.0)) / eps
      dG = jnp.max(jnp.where(b > 0, jnp.abs(G - G_old), 0.0)) / eps
      return jnp.maximum(dF, dG)

    init = (jnp.zeros_like(a), jnp.zeros_like(b))
    (F, G), iters, err = _loop(it, err_fn, init, num_iters, tol, check_every, grad_mode, dt)
    return F, G, iters, err

  if mode == "kernel":
    return kernel_run()
  if mode == "log":
    return log_run()
  ratio = jnp.max(jnp.abs(cost)) / eps
  return jax.lax.cond(ratio < kernel_safe_ratio(dt), kernel_run, log_run)


def _loop(it, err_fn, init, num_iters, tol, check_every, grad_mode, dt):
  """Iterates ``it``; checks ``err_fn`` every ``check_every`` iterations."""
  if grad_mode == "unroll":
    x = jax.lax.fori_loop(0, num_iters - 1, lambda _, s: it(s), init)
    new = it(x)
    return new, jnp.asarray(num_iters), err_fn(*x, *new)

  def block(state):
    x, n_it, _ = state
    x = jax.lax.fori_loop(0, check_every - 1, lambda _, s: it(s), x)
    new = it(x)
    return new, n_it + check_every, err_fn(*x, *new)

  def cond(state):
    _, n_it, err = state
    return (n_it < num_iters) & ~(err <= tol)

  state = (init, jnp.asarray(0), jnp.asarray(jnp.inf, dt))
  x, n_it, err = jax.lax.while_loop(cond, block, state)
  return x, n_it, err


def plan_from_potentials(cost, F, G, eps):
  """``P_ij = exp((F_i + G_j - C_ij) / eps)`` (log-scalings ``F, G``)."""
  return jnp.exp((F[:, None] + G[None, :] - cost) / eps)


@functools.partial(
    jax.jit, static_argnames=("num_iters", "tol", "mode", "check_every", "grad_mode"))
def _sinkhorn(cost, a, b, epsilon, num_iters, tol, mode, check_every, grad_mode):
  F, G, iters, err = scaling_solve(
      jax.lax.stop_gradient(cost) if grad_mode == "envelope" else cost,
      jax.lax.stop_gradient(a) if grad_mode == "envelope" else a,
      jax.lax.stop_gradient(b) if grad_mode == "envelope" else b,
      epsilon=epsilon, fi=1.0, ref_ab=True, balanced=True, mode=mode,
      num_iters=num_iters, tol=tol, check_every=check_every, grad_mode=grad_mode)
  eps = epsilon
  P = plan_from_potentials(cost if grad_mode == "unroll" else jax.lax.stop_gradient(cost),
                           F, G, eps)
  # Potentials w.r.t. the reference a b^T: P = a b^T exp((f + g - C)/eps). Where a weight is
  # zero its scaling is -inf; its potential is the soft c-transform of the other side's
  # (the value every potential takes at convergence), so that d objective / d b_j = g_j holds at
  # b_j = 0 too (a class of probability 0, a masked point) instead of a NaN or a 0.
  g_ext = -eps * logsumexp((F[:, None] - cost) / eps, axis=0)
  f_ext = -eps * logsumexp((G[None, :] - cost) / eps, axis=1)
  f = jnp.where(a > 0, F - eps * jnp.log(jnp.where(a > 0, a, 1.0)), f_ext)
  g = jnp.where(b > 0, G - eps * jnp.log(jnp.where(b > 0, b, 1.0)), g_ext)
  if grad_mode == "envelope":
    P = jax.lax.stop_gradient(P)
    f = jax.lax.stop_gradient(f)
    g = jax.lax.stop_gradient(g)
  transport = jnp.sum(P * cost)
  kl = _plan_kl(P, a[:, None] * b[None, :])
  objective = (transport + eps * kl + linalg.matmul(f, a - jnp.sum(P, 1))
               + linalg.matmul(g, b - jnp.sum(P, 0)))
  return OTResult(cost=transport, plan=P, objective=objective, f=f, g=g,
                  converged=err <= tol, num_iters=iters)


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
) -> OTResult:
  """Balanced entropic OT (Sinkhorn).

  Solves ``min_{P 1 = a, P^T 1 = b} <P, C> + eps KL(P | a b^T)``.

  Args:
    cost: ``[n, m]`` finite cost matrix.
    a: ``[n]`` probability vector, uniform if None.
    b: ``[m]`` probability vector, uniform if None.
    epsilon: absolute entropic regularisation (POT's ``reg``, ott-jax's
      ``epsilon``; NOT relative to the mean cost).
    num_iters: maximum number of Sinkhorn iterations (one iteration updates
      both scalings). With ``grad_mode="unroll"`` exactly this many run.
    tol: stop when the L1 marginal error ``||P 1 - a||_1 <= tol``; default
      1e-5 (float32) or 1e-9 (float64).
    mode: ``"auto"``, ``"kernel"`` or ``"log"`` (see module docstring).
      ``"kernel"`` raises on a concrete cost where it would underflow; under
      ``jit`` with a traced cost it is the caller's promise that
      ``max|C|/epsilon`` is moderate (float32: < 50).
    check_every: test convergence every this many iterations.
    grad_mode: ``"envelope"`` (default): the plan and potentials are held fixed
      and gradients follow the envelope theorem: ``d objective / d C = P``,
      ``d objective / d a = f``, ``d objective / d b = g``, and
      ``d cost / d C = P``. ``"unroll"``: back-propagate through a fixed
      number of iterations (as the WAR reference code does).

  Returns:
    :class:`OTResult` with ``cost = <P, C>`` (as ``ot.sinkhorn2``),
    ``objective = <P, C> + eps KL(P | a b^T)``, potentials ``f: [n]``,
    ``g: [m]`` with ``P = a b^T exp((f + g - C)/eps)``, ``converged``,
    ``num_iters``.
  Examples:
    >>> import jax.numpy as jnp
    >>> from wassml import ot
    >>> cost = jnp.array([[0.0, 1.0], [1.0, 0.0]])
    >>> res = ot.sinkhorn(cost, epsilon=0.1)
    >>> round(float(res.plan.sum()), 4), round(float(res.cost), 4)
    (1.0, 0.0)
  """
  cost, a, b = prepare_problem(cost, a, b, balanced=True)
  _check_settings(epsilon, mode, grad_mode, num_iters, check_every, cost)
  tol = default_tol(cost.dtype) if tol is None else float(tol)
  return _sinkhorn(cost, a, b, jnp.asarray(epsilon, cost.dtype), int(num_iters), tol, mode,
                   int(check_every), grad_mode)
