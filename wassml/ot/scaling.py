"""The Sinkhorn scaling iterations shared by the balanced, unbalanced and semi-relaxed solvers.

Every entropic solver of :mod:`wassml.ot` writes its plan as ``P_ij = exp((F_i + G_j - C_ij) /
eps)`` with log-scalings ``F, G`` (``eps log u``, ``eps log v``) and iterates::

    F <- eps * (pa_a log a) - fi_a * eps * LSE_j((G_j - C_ij) / eps)
    G <- eps * (pa_b log b) - fi_b * eps * LSE_i((F_i - C_ij) / eps)

``fi = rho / (rho + eps)`` on a KL-relaxed side (``fi = 1`` on a constrained side, ``rho =
inf``), and ``pa = fi`` for the ``entropy`` reference (``sum P log P - P``) and ``pa = 1`` for
the ``a b^T`` reference (``KL(P | a b^T)``; the balanced solver) or a constrained side.

Three numerical modes compute the same iterates:

- ``"auto"`` (the default; one code path, no branch, so it is the same program under ``vmap``):
  **log-stabilised scaling** (Schmitzer 2019). Part of the potentials is absorbed into the
  kernel ``K~_ij = exp((alpha_i + beta_j - C_ij) / eps)`` and the rest is kept as scalings
  ``u, v`` updated by matrix-vector products, ``u <- (a^pa / (K~ v))^fi exp(-alpha / (rho +
  eps))``. When a scaling leaves ``[exp(-B), exp(B)]`` (``B`` = :data:`ABSORB_BOUND`) the
  scalings are absorbed into ``alpha, beta`` and ``K~`` is recomputed (``n m`` exponentials).
  The first kernel is built from the row and column minima of ``C`` (each row and column of
  ``K~`` then holds a 1), so it never underflows to an all-zero row, at any ``eps``. On a
  well-conditioned problem there is no absorption after the first kernel, and the cost per
  iteration is the kernel mode's: two mat-vecs.
- ``"kernel"``: ``K = exp(-C/eps)`` once, never absorbed (the textbook iteration). Raises on a
  concrete cost where ``K`` would underflow.
- ``"log"``: the log-domain updates above with ``logsumexp`` (``n m`` exponentials per
  half-iteration; slowest, always stable).

Epsilon scaling (annealing, ``"auto"`` mode): with ``epsilon_start > epsilon`` the solver runs
one block of ``check_every`` iterations at ``eps_k = max(epsilon, epsilon_start * decay^k)``
for ``k = 0, 1, ...``, each warm-started from the last, then iterates at ``epsilon`` to
tolerance. Warm start: ``init=(F, G)`` log-scalings (the public solvers convert their ``f, g``).

Stopping criterion (the one of :class:`wassml.ot.OTResult`): after a full iteration (rows,
then columns) the criterion is ``sum_i |r_i - r'_i|`` where ``r = P 1`` is the current row mass
and ``r'`` the row mass after one more row update: the L1 mass that the next update would move.
On a balanced problem ``r' = a`` and it is the marginal error ``||P 1 - a||_1``.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

from wassml.ot import iteration
from wassml.utils import checks as uc
from wassml.utils import linalg

MODES = ("auto", "kernel", "log")
GRAD_MODES = ("envelope", "unroll")
#: Scalings are absorbed into the kernel when ``|log u|`` or ``|log v|`` exceeds this.
ABSORB_BOUND = 20.0


def kernel_safe_ratio(dtype) -> float:
  """Largest ``max|C|/eps`` for which ``mode="kernel"`` is accepted (float32: 50)."""
  return 50.0 if jnp.finfo(dtype).bits <= 32 else 500.0


def safe_log(x: jax.Array) -> jax.Array:
  """``log x`` with ``log 0 = -inf`` and no NaN in the gradient at 0."""
  pos = x > 0
  return jnp.where(pos, jnp.log(jnp.where(pos, x, 1.0)), -jnp.inf)


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


def check_settings(epsilon, mode, grad_mode, num_iters, check_every, cost=None,
                   epsilon_start=None, epsilon_decay=0.5):
  """Eager checks of the solver settings shared by the entropic solvers."""
  uc.check_positive_scalar(epsilon, "epsilon")
  iteration.check_choice(mode, MODES, "mode")
  iteration.check_choice(grad_mode, GRAD_MODES, "grad_mode")
  iteration.check_settings(num_iters, check_every)
  if epsilon_start is not None:
    uc.check_positive_scalar(epsilon_start, "epsilon_start")
    if mode != "auto":
      raise ValueError(f"epsilon_start (annealing) needs mode='auto', got mode={mode!r}.")
    if not 0.0 < float(epsilon_decay) < 1.0:
      raise ValueError(f"epsilon_decay must be in (0, 1), got {epsilon_decay!r}.")
  if mode == "kernel" and cost is not None:
    c = uc.concrete(cost)
    e = uc.concrete(epsilon)
    if c is not None and e is not None:
      ratio = float(np.max(np.abs(c))) / float(e)
      if ratio >= kernel_safe_ratio(c.dtype):
        raise ValueError(
            f"mode='kernel' would underflow: max|cost|/epsilon = {ratio:.3g} >= "
            f"{kernel_safe_ratio(c.dtype)} for {c.dtype}. Use mode='auto' (stabilised) or "
            "mode='log'.")


class Side(NamedTuple):
  """One marginal of the problem: ``fi = rho/(rho+eps)`` (1 if constrained), exponent ``pa``."""
  relaxed: bool
  rho: Optional[jax.Array]


class Scalings(NamedTuple):
  """What the scaling iterations return.

  ``F, G``: log-scalings, ``P = exp((F + G - C)/eps)``; ``plan``; ``row_lse, col_lse``:
  ``LSE_j((G_j - C_ij)/eps)`` and ``LSE_i((F_i - C_ij)/eps)`` (for the soft c-transforms at
  empty bins); ``iters``; ``err``.
  """
  F: jax.Array
  G: jax.Array
  plan: jax.Array
  row_lse: jax.Array
  col_lse: jax.Array
  iters: jax.Array
  err: jax.Array


def _fi(side: Side, eps):
  return 1.0 if not side.relaxed else side.rho / (side.rho + eps)


def _pa(side: Side, eps, ref_ab: bool):
  return 1.0 if (ref_ab or not side.relaxed) else _fi(side, eps)


def _min_init(cost, a, b):
  """Row then column minima over positive-weight entries: every row and column of
  ``exp((alpha + beta - C)/eps)`` then holds an entry equal to 1 (a positive-weight one)."""
  big = jnp.asarray(jnp.finfo(cost.dtype).max, cost.dtype)
  alpha = jnp.min(jnp.where(b[None, :] > 0, cost, big), axis=1)
  beta = jnp.min(jnp.where(a[:, None] > 0, cost - alpha[:, None], big), axis=0)
  return alpha, beta


def solve(cost, a, b, *, epsilon, side_a: Side, side_b: Side, ref_ab: bool, mode: str,
          num_iters: int, tol: float, check_every: int, differentiable: bool,
          init: Optional[Tuple[jax.Array, jax.Array]] = None,
          epsilon_start=None, epsilon_decay: float = 0.5) -> Scalings:
  """Runs the scaling iterations (see the module docstring)."""
  eps = epsilon
  log_a, log_b = safe_log(a), safe_log(b)
  pos_a, pos_b = a > 0, b > 0
  if mode == "log":
    return _solve_log(cost, a, b, log_a, log_b, eps, side_a, side_b, ref_ab, num_iters, tol,
                      check_every, differentiable, init)

  def row_update(kv, alpha, eps_k):
    """log u from ``K v`` (u <- (a^pa / (K v))^fi exp((fi - 1) alpha / eps))."""
    fi, pa = _fi(side_a, eps_k), _pa(side_a, eps_k, ref_ab)
    lu = pa * log_a - fi * jnp.log(kv) + (fi - 1.0) * alpha / eps_k
    return jnp.where(pos_a, lu, -jnp.inf)


  def col_lv(ktu, log_b_, beta_, pos_b_, eps_k):
    fi, pa = _fi(side_b, eps_k), _pa(side_b, eps_k, ref_ab)
    lv = pa * log_b_ - fi * jnp.log(ktu) + (fi - 1.0) * beta_ / eps_k
    return jnp.where(pos_b_, lv, -jnp.inf)

  def column_pass(KT, lu, beta, eps_k):
    """The column update ``v <- ...(K^T u)``, then ``K v`` for the next row update.

    The kernel is stored transposed (``KT = K^T``, row-major ``[m, n]``): both products are
    then ``KT @ u`` and ``v @ KT``, which XLA:CPU runs 3-4x faster than ``K @ v`` and
    ``K.T @ u`` on a 2000 x 2000 kernel (one solve, single thread: balanced 103 ms instead of
    458 ms, unbalanced 30 ms instead of 104 ms; docs/ot.md). A one-pass sweep over column
    blocks (``lax.scan``, each block read once while in cache) was tried and was 4-5x slower.
    """
    lv = col_lv(linalg.matmul(KT, jnp.exp(lu)), log_b, beta, pos_b, eps_k)
    return lv, linalg.matmul(jnp.exp(lv), KT)

  def make_step(KT, alpha, beta, eps_k):
    # The state carries K v for the current v: the next row update needs it, and so does the
    # stopping criterion, which is then free (two mat-vecs per iteration, none per check).
    def step(s):
      _, _, kv = s
      lu = row_update(kv, alpha, eps_k)
      lv, kv = column_pass(KT, lu, beta, eps_k)
      return lu, lv, kv

    def error(_, s):
      lu, _, kv = s
      lu_next = row_update(kv, alpha, eps_k)
      return jnp.sum(kv * jnp.abs(jnp.exp(lu) - jnp.exp(lu_next)))

    return step, error

  def kernel(alpha, beta, eps_k):
    """``K^T = exp((alpha_i + beta_j - C_ij)/eps)^T``, ``[m, n]`` (see ``column_pass``)."""
    return jnp.exp((beta[:, None] + alpha[None, :] - cost.T) / eps_k)

  dt = cost.dtype
  if init is not None:
    alpha0, beta0 = init
    # Empty bins keep a finite absorbed potential; their scaling is 0 (log -inf).
    alpha0 = jnp.where(jnp.isfinite(alpha0), alpha0, 0.0)
    beta0 = jnp.where(jnp.isfinite(beta0), beta0, 0.0)
  elif mode == "kernel":
    alpha0, beta0 = jnp.zeros_like(a), jnp.zeros_like(b)
  else:
    alpha0, beta0 = _min_init(cost, a, b)
  zu = jnp.where(pos_a, 0.0, -jnp.inf).astype(dt)
  zv = jnp.where(pos_b, 0.0, -jnp.inf).astype(dt)

  def finish(alpha, beta, lu, lv, kv, KT, eps_k, iters, err):
    F = alpha + eps_k * lu
    G = beta + eps_k * lv
    u, v = jnp.exp(lu), jnp.exp(lv)
    plan = (v[:, None] * KT * u[None, :]).T
    row_lse = jnp.log(kv) - alpha / eps_k
    col_lse = jnp.log(linalg.matmul(KT, u)) - beta / eps_k
    return Scalings(F, G, plan, row_lse, col_lse, iters, err)

  def start(KT):
    return zu, zv, linalg.matmul(jnp.exp(zv), KT)

  if mode == "kernel":
    K = kernel(alpha0, beta0, eps)
    step, error = make_step(K, alpha0, beta0, eps)
    (lu, lv, kv), iters, err = iteration.iterate(
        step, error, start(K), num_iters=num_iters, tol=tol, check_every=check_every,
        differentiable=differentiable)
    return finish(alpha0, beta0, lu, lv, kv, K, eps, iters, err)

  # ---- "auto": log-stabilised scaling, absorption when a scaling leaves its range ----
  anneal = epsilon_start is not None
  decay = float(epsilon_decay) if anneal else 1.0
  eps_first = jnp.maximum(eps, jnp.asarray(epsilon_start, dt)) if anneal else eps

  def absorb(alpha, beta, lu, lv, eps_old):
    alpha = jnp.where(pos_a, alpha + eps_old * lu, alpha)
    beta = jnp.where(pos_b, beta + eps_old * lv, beta)
    return alpha, beta

  def in_range(lu, lv):
    big_u = jnp.max(jnp.where(pos_a, jnp.abs(lu), 0.0))
    big_v = jnp.max(jnp.where(pos_b, jnp.abs(lv), 0.0))
    return jnp.maximum(big_u, big_v) <= ABSORB_BOUND

  def rebuild(alpha, beta, lu, lv, eps_prev):
    """Absorbs the scalings into the potentials; the kernel at the next epsilon (annealing) or
    at ``epsilon``."""
    alpha, beta = absorb(alpha, beta, lu, lv, eps_prev)
    eps_k = jnp.maximum(eps, eps_prev * decay) if anneal else eps
    return alpha, beta, eps_k, kernel(alpha, beta, eps_k)

  if differentiable:
    # A fixed schedule (reverse-mode differentiable): blocks of check_every iterations, each on
    # a freshly absorbed kernel (a scan); the last block is shortened to hit num_iters exactly.
    def block(carry, size):
      alpha, beta, lu, lv, _, _, eps_prev, _ = carry
      alpha, beta, eps_k, KT = rebuild(alpha, beta, lu, lv, eps_prev)
      step, error = make_step(KT, alpha, beta, eps_k)
      (lu, lv, kv), _, err = iteration.iterate(step, error, start(KT), num_iters=size, tol=0.0,
                                               check_every=size, differentiable=True)
      return alpha, beta, lu, lv, kv, KT, eps_k, err

    n_full, tail = divmod(int(num_iters), int(check_every))
    carry = (alpha0, beta0, zu, zv, jnp.zeros_like(a), jnp.zeros_like(cost.T), eps_first / decay,
             jnp.asarray(jnp.inf, dt))
    if n_full:
      carry, _ = jax.lax.scan(lambda c, _: (block(c, int(check_every)), None), carry, None,
                              length=n_full)
    if tail:
      carry = block(carry, tail)
    alpha, beta, lu, lv, kv, KT, eps_k, err = carry
    return finish(alpha, beta, lu, lv, kv, KT, eps_k, jnp.asarray(num_iters), err)

  def stage(state):
    """Absorb the scalings, build the kernel (at the next epsilon when annealing), iterate
    until converged, out of range, at num_iters, or (annealing) after one block."""
    alpha, beta, lu, lv, _, _, eps_prev, n_it, _ = state
    alpha, beta, eps_k, K = rebuild(alpha, beta, lu, lv, eps_prev)
    step, error = make_step(K, alpha, beta, eps_k)
    at_target = eps_k <= eps

    def inner_body(s):
      x, n_it, _, _ = s
      k = jnp.minimum(check_every, num_iters - n_it)
      x = jax.lax.fori_loop(0, k - 1, lambda _, y: step(y), x)
      new = step(x)
      err = jnp.where(at_target, error(x, new), jnp.inf).astype(dt)
      return new, n_it + k, err, jnp.asarray(False)

    def inner_cond(s):
      (lu, lv, _), n_it, err, first = s
      keep = (n_it < num_iters) & ~(err <= tol) & in_range(lu, lv) & at_target
      return first | keep

    (lu, lv, kv), n_it, err, _ = jax.lax.while_loop(
        inner_cond, inner_body, (start(K), n_it, jnp.asarray(jnp.inf, dt), jnp.asarray(True)))
    return alpha, beta, lu, lv, kv, K, eps_k, n_it, err

  def more(state):
    *_, n_it, err = state
    return (n_it < num_iters) & ~(err <= tol)

  # The first stage runs outside the loop: on a well-conditioned problem it is the only one,
  # and the loop below (whose body would select the whole kernel under vmap) never runs.
  first = stage((alpha0, beta0, zu, zv, None, None, eps_first / decay, jnp.asarray(0), None))
  alpha, beta, lu, lv, kv, K, eps_k, iters, err = jax.lax.while_loop(more, stage, first)
  return finish(alpha, beta, lu, lv, kv, K, eps_k, iters, err)


def _solve_log(cost, a, b, log_a, log_b, eps, side_a, side_b, ref_ab, num_iters, tol,
               check_every, differentiable, init):
  Ce = cost / eps
  pos_a, pos_b = a > 0, b > 0
  fi_a, pa_a = _fi(side_a, eps), _pa(side_a, eps, ref_ab)
  fi_b, pa_b = _fi(side_b, eps), _pa(side_b, eps, ref_ab)

  def row(G):
    lse = logsumexp(G[None, :] / eps - Ce, axis=1)
    return jnp.where(pos_a, eps * (pa_a * log_a - fi_a * lse), -jnp.inf), lse

  def col(F):
    lse = logsumexp(F[:, None] / eps - Ce, axis=0)
    return jnp.where(pos_b, eps * (pa_b * log_b - fi_b * lse), -jnp.inf), lse

  def step(s):
    F, G = s
    F, _ = row(G)
    G, _ = col(F)
    return F, G

  def error(_, s):
    F, G = s
    F_next, lse = row(G)
    r = jnp.exp(F / eps + lse)
    r_next = jnp.exp(F_next / eps + lse)
    return jnp.sum(jnp.abs(r - r_next))

  if init is None:
    init = (jnp.where(pos_a, 0.0, -jnp.inf).astype(cost.dtype),
            jnp.where(pos_b, 0.0, -jnp.inf).astype(cost.dtype))
  (F, G), iters, err = iteration.iterate(step, error, init, num_iters=num_iters, tol=tol,
                                         check_every=check_every, differentiable=differentiable)
  plan = jnp.exp((F[:, None] + G[None, :] - cost) / eps)
  row_lse = logsumexp(G[None, :] / eps - Ce, axis=1)
  col_lse = logsumexp(F[:, None] / eps - Ce, axis=0)
  return Scalings(F, G, plan, row_lse, col_lse, iters, err)


def plan_entropy_terms(plan, F, G, cost, eps):
  """``sum P log P`` computed from the potentials (``log P = (F + G - C)/eps``), no ``n m``
  logarithms; entries with ``P = 0`` add nothing."""
  logp = (F[:, None] + G[None, :] - cost) / eps
  pos = plan > 0
  return jnp.sum(jnp.where(pos, plan * jnp.where(pos, logp, 0.0), 0.0))


def plan_kl_ab(plan, F, G, cost, eps, a, b):
  """``KL(P | a b^T)`` with ``log P`` from the potentials. Entries where ``a_i b_j = 0`` (where
  the plan is 0) add nothing, to the value or to the gradient in ``a, b``."""
  r, c = jnp.sum(plan, 1), jnp.sum(plan, 0)
  xlogx = plan_entropy_terms(plan, F, G, cost, eps)
  ra = jnp.sum(jnp.where(r > 0, r * safe_log(jnp.where(r > 0, a, 1.0)), 0.0))
  cb = jnp.sum(jnp.where(c > 0, c * safe_log(jnp.where(c > 0, b, 1.0)), 0.0))
  mass = jnp.sum(jnp.where(a > 0, a, 0.0)) * jnp.sum(jnp.where(b > 0, b, 0.0))
  return xlogx - ra - cb - jnp.sum(plan) + mass
