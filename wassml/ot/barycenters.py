"""Fixed-support Wasserstein barycenters: entropic (iterative Bregman projections) and exact (LP).

Entropic barycenter of ``K`` histograms ``a_k = measures[k]: [n]`` with weights ``w: [K]``
(``w >= 0``, ``sum w = 1``) on a support of ``m`` points, with cost ``C_k: [n, m]`` from the
support of ``a_k`` (rows) to the barycenter's support (columns; one shared ``C: [n, m]``, e.g.
``n = m`` and a common support, or one per measure, ``cost: [K, n, m]``)::

    b* = argmin_{b in simplex_m}  sum_k w_k OT_eps(a_k, b; C_k),
    OT_eps(a, b; C) = min_{P >= 0, P 1 = a, P^T 1 = b} <P, C> - eps H(P),
    H(P) = -sum_ij P_ij (log P_ij - 1).

This is the problem of Benamou et al. (2015), "Iterative Bregman projections for regularized
transportation problems", and of POT's ``ot.bregman.barycenter(A, M, reg, weights)`` with
``A = measures.T`` (POT stores the histograms as the COLUMNS of ``A: [n, K]``),
``M = cost: [n, n]``, ``reg = epsilon`` (absolute) and ``weights = weights``; POT's
``method="sinkhorn"`` is this module's ``mode="kernel"`` and ``method="sinkhorn_log"`` its
``mode="log"``. (The reference of the entropy is ``H``, as in POT, not ``KL(P | a b^T)`` as in
:func:`wassml.ot.sinkhorn`: the two objectives differ by ``eps sum_k w_k <b, log b>`` up to
constants, so they do not have the same minimiser ``b``.)

Algorithm (Benamou et al. 2015, Prop. 1 / Remark 3): with ``P_k = diag(u_k) K_k diag(v_k)``,
``K_k = exp(-C_k / eps)``, alternate the KL projections on ``{P_k 1 = a_k}`` and on
``{P_1^T 1 = ... = P_K^T 1}``::

    u_k <- a_k / (K_k v_k)
    mu_k = v_k * K_k^T u_k                         (column marginals)
    b    = prod_k mu_k^(w_k)                       (weighted geometric mean)
    v_k <- b / (K_k^T u_k)

``mode="log"`` runs the same updates on ``f_k = eps log u_k``, ``g_k = eps log v_k`` with
``logsumexp``; it is stable for any ``eps`` and costs ``K n m`` exponentials per iteration,
against two (batched) mat-vecs for ``mode="kernel"``, whose kernel underflows when
``C / eps`` is large (float32: beyond ~80). ``mode="auto"`` (the default) picks ``"kernel"``
when ``max|C| / eps`` is below the dtype's safe ratio (float32: 50, float64: 500, as
:func:`wassml.ot.sinkhorn`) and ``"log"`` otherwise; the choice is made eagerly from concrete
values, and a traced ``cost`` or ``epsilon`` (under ``jit``/``vmap`` with a batched cost) gets
``"log"``, which is always safe. Pass ``mode`` explicitly in hot loops.

Stopping (the convention of :class:`wassml.ot.OTResult`, driven by
:func:`wassml.ot.iteration.iterate`): after the row projection the plans' column marginals
``mu_k`` disagree; the criterion is ``error = max_k ||mu_k - b||_1`` (units of mass; POT's is
``sum_j std_k mu_kj``). The returned ``b`` is the geometric mean of the last ``mu_k`` (as
POT's), so it sums to 1 only up to ``error``.

Gradients (``grad_mode``): ``"implicit"`` (default) differentiates the fixed point of the
iteration by the implicit function theorem: the forward pass stops at ``tol``, and the backward
pass solves the adjoint system ``w = ct + J^T w`` (``J`` the Jacobian of one iteration) by the
same fixed-point iteration (same ``num_iters``, ``check_every``, and ``tol`` relative to
``max|w|``). It is the gradient of the exact entropic barycenter up to the tolerances, in
memory independent of the number of iterations. (``J`` has the eigenvalue 1 along the
invariances ``v_k -> c_k v_k``, which ``b`` does not see; the adjoint series converges in the
other directions at the forward rate.) ``"unroll"`` runs exactly ``num_iters`` iterations
and back-propagates through them (as in Schmitz et al. 2018, Wasserstein dictionary learning).
Gradients reach ``measures``, ``weights``, ``cost`` and ``epsilon``. In ``mode="log"`` an
exactly-zero bin of a measure gets a zero gradient (``log 0`` is held at ``-inf``). The implicit
mode is a ``jax.custom_vjp``: reverse mode only (``jax.grad``, ``jax.vjp``); forward mode
(``jax.jvp``, ``jax.jacfwd``) needs ``grad_mode="unroll"``.

Exact barycenter: :func:`barycenter_exact` solves the linear program (``eps = 0``)
``min sum_k w_k <P_k, C_k>`` s.t. ``P_k 1 = a_k``, ``P_k^T 1 = b``, ``P_k >= 0`` with
scipy's HiGHS, as POT's ``ot.lp.barycenter(A, M, weights)``.
"""

from __future__ import annotations

import functools
from typing import Optional, Tuple

import flax
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp
from jax.typing import ArrayLike

from wassml.ot.checks import float_dtype
from wassml.ot import iteration
from wassml.ot.iteration import default_tol, iterate
from wassml.ot.scaling import kernel_safe_ratio
from wassml.utils import checks as uc
from wassml.utils import linalg

MODES = ("auto", "kernel", "log")
GRAD_MODES = ("implicit", "unroll")




@flax.struct.dataclass
class BarycenterOutput:
  """Diagnostics of :func:`barycenter` (a pytree).

  Attributes:
    barycenter: ``[m]`` the barycenter ``b``.
    f: ``[K, n]`` row potentials, ``g: [K, m]`` column potentials of the ``K`` plans
      ``P_k = exp((f_k[:, None] + g_k[None, :] - C_k) / eps)`` (POT's ``eps log u``,
      ``eps log v``); ``P_k 1 = a_k`` exactly and ``P_k^T 1 = mu_k ~ b``. Gradients stopped.
    converged: whether ``error <= tol``.
    num_iters: iterations run.
    error: ``max_k ||P_k^T 1 - b||_1`` for the returned ``b``.
  """

  barycenter: jax.Array
  f: jax.Array
  g: jax.Array
  converged: jax.Array
  num_iters: jax.Array
  error: jax.Array


def _safe_log(x):
  pos = x > 0
  return jnp.where(pos, jnp.log(jnp.where(pos, x, 1.0)), -jnp.inf)


def _prepare(mode, params):
  """Per-solve constants: the kernel (kernel mode) or ``C / eps`` and ``log a`` (log mode)."""
  cost, measures, weights, eps = params
  if mode == "kernel":
    return (jnp.exp(-cost / eps), measures, weights, eps)
  return (cost / eps, _safe_log(measures), weights, eps)


def _geometric_mean(weights, log_mu):
  """``sum_k w_k log mu_k`` (a zero weight ignores its ``-inf``)."""
  w = weights[:, None]
  return jnp.sum(jnp.where(w > 0, w * log_mu, 0.0), axis=0)


def _iteration(mode, state, aux):
  """One Bregman iteration from the column state; returns ``(state', b, error, f)``.

  ``b`` is the geometric mean of the column marginals after the row projection of ``state``
  and ``error = max_k ||mu_k - b||_1``; ``f`` the row potentials of that projection.

  The update conserves ``sum_k w_k g_k`` (``prod_k v_k^(w_k)``), and the fixed point it reaches
  depends on that value: every set of plans with a common column marginal is a fixed point,
  and the barycenter is the one with ``sum_k w_k g_k = 0`` (its optimality condition; an
  iteration started elsewhere converges to a biased ``b``, the bug of POT's ``"sinkhorn"`` and
  ``"sinkhorn_stabilized"`` barycenters with non-uniform weights, PythonOT/POT#870). The
  state starts at ``g = 0`` and the update re-imposes ``sum_k w_k g_k = 0`` explicitly: a no-op
  on the values, but it makes the fixed point isolated (up to shifts ``g_k + c_k`` with
  ``sum_k w_k c_k = 0``, which ``b`` does not see) and puts the dependence of that condition
  on ``w`` into the Jacobian, so that the implicit gradient in ``weights`` is right.
  """
  if mode == "kernel":
    Kmat, A, w, eps = aux
    v = state
    sub = "nm" if Kmat.ndim == 2 else "knm"
    Kv = linalg.einsum(f"{sub},km->kn", Kmat, v)
    u = A / Kv
    KTu = linalg.einsum(f"{sub},kn->km", Kmat, u)
    mu = v * KTu
    log_b = _geometric_mean(w, _safe_log(mu))
    b = jnp.exp(log_b)
    new = b[None, :] / KTu
    # Exact arithmetic keeps prod_k new_k^(w_k) = 1 (see _iteration's docstring).
    new = new * jnp.exp(-_geometric_mean(w, jnp.log(new)))[None, :]
    f = eps * _safe_log(u)
  else:
    Ce, log_a, w, eps = aux
    g = state
    Ce3 = Ce[None] if Ce.ndim == 2 else Ce
    f = eps * (log_a - logsumexp(g[:, None, :] / eps - Ce3, axis=2))
    log_mu = g / eps + logsumexp(f[:, :, None] / eps - Ce3, axis=1)
    log_b = _geometric_mean(w, log_mu)
    b = jnp.exp(log_b)
    mu = jnp.exp(log_mu)
    new = g + eps * (log_b[None, :] - log_mu)
    new = new - _geometric_mean(w, new)[None, :]  # = new in exact arithmetic
  err = jnp.max(jnp.sum(jnp.abs(mu - b[None, :]), axis=1))
  return new, b, err, f


def _init_state(mode, params):
  cost, measures, _, _ = params
  K, m = measures.shape[0], cost.shape[-1]
  return jnp.ones((K, m), cost.dtype) if mode == "kernel" else jnp.zeros((K, m), cost.dtype)


def _forward(settings, params, differentiable=False):
  mode, num_iters, tol, check_every = settings
  aux = _prepare(mode, params)

  def step(s):
    new, _, err, _ = _iteration(mode, s[0], aux)
    return new, err

  init = (_init_state(mode, params), jnp.asarray(jnp.inf, params[0].dtype))
  (state, _), iters, _ = iterate(step, lambda prev, cur: cur[1], init, num_iters=num_iters,
                                 tol=tol, check_every=check_every,
                                 differentiable=differentiable)
  return state, iters


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _fixed_point(settings, params):
  """The converged column state ``s* = T(s*, params)``, differentiated implicitly."""
  return _forward(settings, jax.lax.stop_gradient(params))


def _fixed_point_fwd(settings, params):
  state, iters = _forward(settings, params)
  return (state, iters), (state, params)


def _fixed_point_bwd(settings, res, ct):
  mode, num_iters, tol, check_every = settings
  state, params = res
  ct_state = ct[0]
  _, vjp_T = jax.vjp(lambda s, p: _iteration(mode, s, _prepare(mode, p))[0], state, params)

  # w = ct + J^T w  (Neumann series of (I - J^T)^{-1} ct).
  def step(w):
    return ct_state + vjp_T(w)[0]

  def err(prev, cur):
    scale = jnp.maximum(jnp.max(jnp.abs(cur)), jnp.finfo(cur.dtype).tiny)
    return jnp.max(jnp.abs(cur - prev)) / scale

  w, _, _ = iterate(step, err, ct_state, num_iters=num_iters, tol=tol, check_every=check_every)
  return (vjp_T(w)[1],)


_fixed_point.defvjp(_fixed_point_fwd, _fixed_point_bwd)


@functools.partial(
    jax.jit,
    static_argnames=("mode", "num_iters", "tol", "check_every", "grad_mode", "return_output"))
def _barycenter(cost, measures, weights, epsilon, mode, num_iters, tol, check_every, grad_mode,
                return_output):
  settings = (mode, num_iters, tol, check_every)
  params = (cost, measures, weights, epsilon)
  if grad_mode == "implicit":
    state, iters = _fixed_point(settings, params)
  else:
    state, iters = _forward(settings, params, differentiable=True)
  _, b, err, f = _iteration(mode, state, _prepare(mode, params))
  if not return_output:
    return b
  sg = jax.lax.stop_gradient
  g = epsilon * _safe_log(state) if mode == "kernel" else state
  out = BarycenterOutput(barycenter=b, f=sg(f), g=sg(g), converged=err <= tol,
                         num_iters=iters, error=sg(err))
  return b, out


def _check_problem(cost, measures, weights):
  """Shapes and values of ``(cost, measures, weights)``; returns them as arrays of one dtype."""
  uc.check_floating_or_int(cost, "cost")
  uc.check_floating_or_int(measures, "measures")
  uc.check_ndim(measures, 2, "measures")
  K, n = jnp.shape(measures)
  if K == 0 or n == 0:
    raise ValueError(f"measures must be non-empty [K, n], got shape {(K, n)}.")
  if jnp.ndim(cost) not in (2, 3):
    raise ValueError(
        f"cost must be [n, m] (shared) or [K, n, m] (one per measure), got shape "
        f"{tuple(jnp.shape(cost))}.")
  if jnp.shape(cost)[-2] != n or (jnp.ndim(cost) == 3 and jnp.shape(cost)[0] != K):
    want = f"({n}, m)" if jnp.ndim(cost) == 2 else f"({K}, {n}, m)"
    raise ValueError(
        f"cost of shape {tuple(jnp.shape(cost))} does not match measures of shape {(K, n)}: "
        f"expected {want} (rows: the measures' support).")
  if jnp.shape(cost)[-1] == 0:
    raise ValueError("cost must have at least one column (the barycenter's support).")
  uc.check_finite(cost, "cost")
  uc.check_nonnegative(measures, "measures")
  uc.check_finite(measures, "measures")
  v = uc.concrete(measures)
  if v is not None:
    s = np.sum(v.astype(np.float64), axis=1)
    bad = np.abs(s - 1.0) > 1e-4
    if np.any(bad):
      k = int(np.argmax(np.abs(s - 1.0)))
      raise ValueError(
          f"each row of measures must sum to 1 (a histogram); measures[{k}] sums to "
          f"{float(s[k])!r} ({int(bad.sum())} of {K} rows off by more than 1e-4).")
  dt = float_dtype(cost, measures, weights)
  if weights is None:
    weights = jnp.full((K,), 1.0 / K, dt)
  else:
    uc.check_floating_or_int(weights, "weights")
    if jnp.shape(weights) != (K,):
      raise ValueError(
          f"weights must have shape ({K},) to match measures of shape {(K, n)}, got "
          f"{tuple(jnp.shape(weights))}.")
    uc.check_nonnegative(weights, "weights")
    uc.check_finite(weights, "weights")
    wv = uc.concrete(weights)
    if wv is not None and abs(float(np.sum(wv, dtype=np.float64)) - 1.0) > 1e-4:
      raise ValueError(
          f"weights must sum to 1 (barycentric weights), got sum {float(np.sum(wv))!r}.")
  return jnp.asarray(cost, dt), jnp.asarray(measures, dt), jnp.asarray(weights, dt)


def barycenter(
    cost: ArrayLike,
    measures: ArrayLike,
    weights: Optional[ArrayLike] = None,
    *,
    epsilon: float,
    num_iters: int = 1000,
    tol: Optional[float] = None,
    check_every: int = 10,
    mode: str = "auto",
    grad_mode: str = "implicit",
    return_output: bool = False,
) -> jax.Array | Tuple[jax.Array, BarycenterOutput]:
  """Entropic fixed-support Wasserstein barycenter (iterative Bregman projections).

  ``b* = argmin_b sum_k w_k OT_eps(a_k, b; C_k)`` with the entropy ``-H(P)`` as in POT (see
  the module docstring). POT: ``ot.bregman.barycenter(measures.T, cost, epsilon, weights,
  method="sinkhorn" | "sinkhorn_log")`` (note the transposition: POT's ``A`` is ``[n, K]``).
  ott-jax: ``ott.solvers.linear.discrete_barycenter`` (a debiased variant by default).

  Args:
    cost: ``[n, m]`` cost from each measure's support (rows) to the barycenter's (columns),
      shared by all measures (``[n, n]`` for a common support), or ``[K, n, m]``, one per
      measure. Finite.
    measures: ``[K, n]`` histograms ``a_k``, each non-negative and summing to 1.
    weights: ``[K]`` barycentric weights, non-negative, summing to 1; uniform if None.
    epsilon: absolute entropic regularisation (POT's ``reg``), ``> 0``.
    num_iters: maximum number of iterations (hard; exactly this many with
      ``grad_mode="unroll"``).
    tol: stop when ``max_k ||P_k^T 1 - b||_1 <= tol``; default 1e-5 (float32) / 1e-9 (float64).
    check_every: test convergence every this many iterations.
    mode: ``"auto"`` (default), ``"kernel"`` or ``"log"`` (module docstring). ``"auto"`` takes
      the fast kernel iterations whenever they cannot underflow and the stable log-domain ones
      otherwise (small ``eps``); ``"kernel"`` raises on a concrete cost where it would
      underflow.
    grad_mode: ``"implicit"`` (default) or ``"unroll"`` (module docstring).
    return_output: also return a :class:`BarycenterOutput`.

  Returns:
    ``b: [m]``, or ``(b, BarycenterOutput)`` with ``return_output=True``.

  Raises:
    ValueError: shape mismatches, measures or weights that are negative, not finite or do not
      sum to 1, ``epsilon <= 0``, unknown ``mode``/``grad_mode``, ``num_iters < 1``,
      ``check_every < 1``.

  Under ``jit`` with traced inputs the value checks are skipped: measures or weights that do
  not sum to 1 are then solved as given (``b`` takes the geometric-mean mass), negative entries
  give NaN in ``mode="log"``, and a ``mode="kernel"`` that underflows gives NaN/inf.

  Examples:
    >>> import jax.numpy as jnp
    >>> from wassml import ot
    >>> x = jnp.linspace(0.0, 1.0, 5)
    >>> cost = (x[:, None] - x[None, :]) ** 2
    >>> measures = jnp.array([[1.0, 0, 0, 0, 0], [0, 0, 0, 0, 1.0]]) * 0.98 + 0.004
    >>> b = ot.barycenter(cost, measures, epsilon=0.01)
    >>> int(jnp.argmax(b)), round(float(b.sum()), 4)
    (2, 1.0)
  """
  cost, measures, weights = _check_problem(cost, measures, weights)
  uc.check_positive_scalar(epsilon, "epsilon")
  iteration.check_choice(mode, MODES, "mode")
  iteration.check_choice(grad_mode, GRAD_MODES, "grad_mode")
  iteration.check_settings(num_iters, check_every)
  c, e = uc.concrete(cost), uc.concrete(epsilon)
  ratio = None if c is None or e is None else float(np.max(np.abs(c))) / float(e)
  safe = kernel_safe_ratio(cost.dtype)
  if mode == "kernel" and ratio is not None and ratio >= safe:
    raise ValueError(
        f"mode='kernel' would underflow: max|cost|/epsilon = {ratio:.3g} >= {safe} for "
        f"{cost.dtype}. Use mode='auto' or mode='log'.")
  if mode == "auto":
    mode = "kernel" if ratio is not None and ratio < safe else "log"
  tol = default_tol(cost.dtype) if tol is None else float(tol)
  return _barycenter(cost, measures, weights, jnp.asarray(epsilon, cost.dtype), mode,
                     int(num_iters), tol, int(check_every), grad_mode, bool(return_output))


# ----------------------------------------------------------------------------
# Exact (LP) barycenter.
# ----------------------------------------------------------------------------
def _lp_barycenter(cost, measures, weights):
  """The barycenter LP in float64 with HiGHS; returns ``b: [m]``."""
  import scipy.optimize
  import scipy.sparse as sp

  cost = np.asarray(cost, np.float64)
  A = np.asarray(measures, np.float64)
  w = np.asarray(weights, np.float64)
  K, n = A.shape
  m = cost.shape[-1]
  C = np.broadcast_to(cost, (K, n, m))
  # Variables: P_1..P_K (row-major [n, m] each), then b [m].
  c = np.concatenate([(w[:, None, None] * C).ravel(), np.zeros(m)])
  row_sum = sp.kron(sp.eye(n), np.ones((1, m)))  # [n, nm]
  col_sum = sp.kron(np.ones((1, n)), sp.eye(m))  # [m, nm]
  A_rows = sp.hstack([sp.block_diag([row_sum] * K), sp.csr_matrix((K * n, m))])
  A_cols = sp.hstack([sp.block_diag([col_sum] * K), -sp.vstack([sp.eye(m)] * K)])
  A_eq = sp.vstack([A_rows, A_cols]).tocsr()
  b_eq = np.concatenate([A.ravel(), np.zeros(K * m)])
  # Summing measure k's row and column constraints gives sum b = sum a_k: K - 1 of these are
  # redundant; drop one column constraint of each measure k >= 1 (as ot.lp.barycenter).
  # (With them, HiGHS' presolve can declare the problem infeasible on rounding-level mass
  # differences.)
  keep = np.ones(A_eq.shape[0], bool)
  keep[[K * n + k * m + m - 1 for k in range(1, K)]] = False
  A_eq, b_eq = A_eq[keep].tocsc(), b_eq[keep]
  res = scipy.optimize.linprog(c, A_eq=A_eq, b_eq=b_eq, bounds=(0, None), method="highs")
  if res.status != 0:
    return np.full((m,), np.nan), False
  return np.maximum(res.x[-m:], 0.0), True


def barycenter_exact(
    cost: ArrayLike,
    measures: ArrayLike,
    weights: Optional[ArrayLike] = None,
) -> jax.Array:
  """Exact (unregularised) fixed-support Wasserstein barycenter by linear programming.

  ``min_{b, P_k >= 0} sum_k w_k <P_k, C_k>`` s.t. ``P_k 1 = a_k``, ``P_k^T 1 = b``: ``K n m + m``
  variables, solved with scipy's HiGHS (``linprog(method="highs")``) on the host in float64,
  through a ``jax.pure_callback`` (``vmap_method="sequential"``), so it runs under ``jit`` and
  ``vmap`` but not on the device and without gradients. Meant for small problems (a few
  thousand variables solve in well under a second; ``K n m`` grows fast). POT:
  ``ot.lp.barycenter(measures.T, cost, weights)``. The LP barycenter need not be unique (on a
  1-D grid it often is not): compare objectives, not ``b``.

  Args:
    cost: ``[n, m]`` shared or ``[K, n, m]`` per-measure cost (see :func:`barycenter`).
    measures: ``[K, n]`` histograms summing to 1.
    weights: ``[K]`` barycentric weights summing to 1; uniform if None.

  Returns:
    ``b: [m]``, the barycenter (NaN if HiGHS failed, which it does not on valid input).

  Raises:
    ValueError: as :func:`barycenter` (shapes, non-negativity, sums).
  """
  cost, measures, weights = _check_problem(cost, measures, weights)
  dt = cost.dtype
  m = cost.shape[-1]

  def cb(c, A, w):
    b, _ = _lp_barycenter(c, A, w)
    return b.astype(dt)

  sg = jax.lax.stop_gradient
  return jax.pure_callback(cb, jax.ShapeDtypeStruct((m,), dt), sg(cost), sg(measures),
                           sg(weights), vmap_method="sequential")
