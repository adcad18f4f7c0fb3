r"""ott-jax linear solvers behind wassml's ``solver(cost, a, b) -> OTResult`` interface.

:func:`ott_solver` builds, for a cost matrix ``C`` and weights ``a, b``::

    geom = ott.geometry.geometry.Geometry(cost_matrix=C, epsilon=epsilon)   # ABSOLUTE epsilon
    prob = ott.problems.linear.linear_problem.LinearProblem(geom, a, b, tau_a=tau, tau_b=tau)
    out = solver(prob)          # ott.solvers.linear.sinkhorn.Sinkhorn(...) by default

and maps ``out`` to a :class:`wassml.ot.OTResult`, so that an ott-jax solver can replace
``wassml.ot.sinkhorn`` / ``wassml.ot.unbalanced_sinkhorn`` anywhere a wassml solver is taken (the
DeepJDOT/JUMBOT step of :mod:`wassml.domain_adaptation`, :func:`wassml.ot.pointcloud_ot`, ...).
``epsilon`` is always passed explicitly: ott-jax's default, ``Geometry(cost_matrix=C)``, is
*relative* (``0.05 * mean(C)``), wassml's and POT's ``reg`` are absolute.

Problems and plans (checked by ``tests/test_ot_ott_adapter.py``):

- ``rho=None`` (balanced, ``tau = 1``): ``min_{P 1 = a, P^T 1 = b} <P, C> + eps KL(P | a b^T)``;
  the plan is ``wassml.ot.sinkhorn``'s (and POT ``ot.sinkhorn``'s).
- ``rho > 0``: ``tau_a = tau_b = rho / (rho + eps)``; the plan is
  ``wassml.ot.unbalanced_sinkhorn(convention="entropy")``'s (POT
  ``sinkhorn_knopp_unbalanced(reg_type="entropy")``), whose updates are ott-jax's.

Potentials. ott-jax's ``f, g`` are absolute: ``out.matrix = exp((f + g - C) / eps)`` (reference
measure ``1``, ott's ``geom.transport_from_potentials``); its balanced update is
``f = eps log a - eps log sum_j exp((g_j - C_ij) / eps)``. They are converted to the convention of
the wassml solver with the same plan:

- balanced: ``f_wassml = f_ott - eps log a``, ``g_wassml = g_ott - eps log b``, relative to
  ``a b^T`` as :func:`wassml.ot.sinkhorn` (``P = a b^T exp((f + g - C)/eps)``); where a weight is
  0 (ott: ``-inf``), the soft c-transform of the other potential, as wassml does;
- unbalanced: unchanged (``P = exp((f + g - C)/eps)``, wassml's ``"entropy"`` convention), with
  ott's ``-inf`` at zero weights replaced by 0 as in :func:`wassml.ot.unbalanced_sinkhorn`.

Both solvers fix the potentials only up to ``(f + c, g - c)`` in the balanced case.

Objective: ``objective = out.reg_ot_cost``, ott's dual formula (``compute_kl_reg_cost``). Balanced,
it equals ``wassml.ot.sinkhorn``'s objective ``<P, C> + eps KL(P | a b^T)``. Unbalanced, it is NOT
comparable with either wassml convention: ott evaluates the dual of the ``KL(P | a b^T)``
problem at the potentials of the ``"entropy"`` problem it solved (on the test problem of
``tests/test_ot_ott_adapter.py``: 0.3769, against the ``"entropy"`` objective -0.3812 and the
``KL(P | a b^T)`` objective of the same plan 0.4723); compare ``transport_cost`` or the plans.

Other fields: ``transport_cost = sum(stop_gradient(P) * C)`` (the :class:`OTResult` contract:
``d/dC = P``); ``plan = out.matrix``, ``objective`` and ``f, g`` keep **ott-jax's derivatives** (implicit differentiation by default,
``implicit_diff=None`` to unroll; ``use_danskin`` for the objective): that is the point of the
adapter's differentiation options. ``converged = out.converged``, ``num_iters = out.n_iters``
(a multiple of ott's ``inner_iterations``), ``error`` = ott's last recorded error: for balanced
Sinkhorn the L1 column violation ``||P^T 1 - b||_1`` (ott updates ``g`` then ``f``, so the rows
are exact: the mirror of wassml's row criterion, same units); for unbalanced problems ott's
gradient-norm criterion; for ``LRSinkhorn`` its objective-change criterion.

Defaults differing from ott-jax's: ``threshold`` defaults to ``wassml.ot.iteration.default_tol``
of the cost's dtype (1e-5 float32, 1e-9 float64) instead of ott's 1e-3, so that the adapter's
answer agrees with wassml's solvers to their tolerance; pass ``threshold=...`` to override.

ott-jax 0.6.0 with jax 0.10.x — what works and what does not (checked with jax 0.10.2):

- ``Geometry(cost_matrix=...)`` + ``Sinkhorn`` (balanced and unbalanced, ``jit``, ``vmap``,
  ``grad``) and ``LRSinkhorn`` work; this adapter only uses those.
- ``ott.geometry.pointcloud.PointCloud(x, y, batch_size=...)`` (ott's online, memory-light mode)
  fails inside the first Sinkhorn iteration with ``AttributeError: module
  'jax.interpreters.batching' has no attribute 'is_vmappable'``, raised at
  ``ott/utils.py:271`` (``_batch_and_remainder``: ``jax.tree.flatten(args,
  is_leaf=batching.is_vmappable)``; also line 345), reached from
  ``ott/geometry/pointcloud.py:101`` (``apply_lse_kernel`` -> ``batched_apply``): jax 0.10 no
  longer exports ``is_vmappable`` from the public ``jax.interpreters.batching`` (it lives in
  ``jax._src.interpreters.batching``). ``PointCloud`` without ``batch_size`` works (it
  materialises the cost). Use :func:`wassml.ot.online_sinkhorn` for the memory-light solve.
  ``tests/test_ot_ott_adapter.py::test_ott_pointcloud_batch_size_is_broken_with_this_jax``
  records the failure and fails once ott-jax is fixed.

ott-jax is imported inside :func:`ott_solver`, so ``import wassml.ot`` does not import it.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Union

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp
from jax.typing import ArrayLike

from wassml.ot.checks import prepare_problem
from wassml.ot.iteration import default_tol
from wassml.ot.result import OTResult
from wassml.utils import checks as uc

SOLVERS = ("sinkhorn", "lr")

__all__ = ["SOLVERS", "ott_solver"]


def _safe_log(w):
  return jnp.where(w > 0, jnp.log(jnp.where(w > 0, w, 1.0)), -jnp.inf)


def _last_error(errors):
  """ott's last recorded error (``errors`` is ``-1`` after termination, ``inf`` if skipped)."""
  e = jnp.reshape(errors, (errors.shape[0], -1))[:, 0]
  idx = jnp.maximum(jnp.sum(e != -1) - 1, 0)
  return e[idx]


def _to_result(out, cost, a, b, eps, balanced, low_rank):
  P = out.matrix
  transport = jnp.sum(jax.lax.stop_gradient(P) * cost)
  n, m = cost.shape
  if low_rank:
    # LRSinkhorn has no dual potentials (its factors are q [n, r], r [m, r], g [r]).
    f = jnp.full((n,), jnp.nan, cost.dtype)
    g = jnp.full((m,), jnp.nan, cost.dtype)
  elif balanced:
    F, G = out.f, out.g
    # Zero weight: ott's potential is -inf; use the soft c-transform of the other side's
    # (relative to a b^T), as wassml.ot.sinkhorn does.
    G_fin = jnp.where(jnp.isfinite(G), G, -jnp.inf)
    F_fin = jnp.where(jnp.isfinite(F), F, -jnp.inf)
    f_ext = -eps * logsumexp((G_fin[None, :] - cost) / eps, axis=1)
    g_ext = -eps * logsumexp((F_fin[:, None] - cost) / eps, axis=0)
    f = jnp.where(a > 0, F - eps * _safe_log(a), f_ext)
    g = jnp.where(b > 0, G - eps * _safe_log(b), g_ext)
  else:
    f = jnp.where(jnp.isfinite(out.f), out.f, 0.0)
    g = jnp.where(jnp.isfinite(out.g), out.g, 0.0)
  return OTResult(
      transport_cost=transport, plan=P, objective=out.reg_ot_cost, f=f, g=g,
      converged=jnp.asarray(out.converged), num_iters=jnp.asarray(out.n_iters),
      error=jnp.asarray(_last_error(out.errors), cost.dtype))


def ott_solver(
    epsilon: float,
    *,
    rho: Optional[float] = None,
    solver: Union[None, str, Any] = None,
    **solver_kwargs: Any,
) -> Callable[..., OTResult]:
  """An ott-jax linear solver as a wassml ``solver(cost, a=None, b=None) -> OTResult``.

  Args:
    epsilon: absolute entropic regularisation, ``Geometry(cost_matrix=C, epsilon=epsilon)``
      (POT ``reg``, wassml ``epsilon``; never ott's relative default). ``LRSinkhorn`` ignores
      the geometry's epsilon (its own entropic term is its ``epsilon`` keyword, default 0).
    rho: None for balanced OT (``tau_a = tau_b = 1``; ``a`` and ``b`` must sum to 1), or the
      weight of the KL marginal penalties (> 0): ``tau_a = tau_b = rho / (rho + epsilon)``,
      the problem of ``wassml.ot.unbalanced_sinkhorn(convention="entropy")``.
    solver: ``None`` or ``"sinkhorn"``: ``ott.solvers.linear.sinkhorn.Sinkhorn(**solver_kwargs)``;
      ``"lr"``: ``ott.solvers.linear.sinkhorn_lr.LRSinkhorn(**solver_kwargs)`` (``rank=`` is
      required); or an already built ott-jax linear solver instance (``solver_kwargs`` must then
      be empty). Its output type (``SinkhornOutput`` or ``LRSinkhornOutput``) picks the mapping.
    **solver_kwargs: keyword arguments of the ott-jax solver, e.g. ``threshold`` (default here:
      ``wassml.ot.iteration.default_tol`` of the cost dtype, not ott's 1e-3),
      ``max_iterations`` (ott: 2000), ``inner_iterations`` (ott: 10, how often the error is
      checked), ``lse_mode``, ``implicit_diff`` (ott's default
      ``ott.solvers.linear.implicit_differentiation.ImplicitDiff()``; ``None`` unrolls the
      loop), ``use_danskin``, ``rank``/``gamma``/``initializer`` for ``"lr"``.

  Returns:
    ``solve(cost [n, m], a [n] | None, b [m] | None) -> OTResult`` (jitted; ``vmap``-able;
    uniform weights when None). Fields as in the module docstring: ``plan = out.matrix``,
    ``transport_cost = <P, C>`` (``d/dC = P``), ``objective = out.reg_ot_cost`` (wassml's
    objective when balanced; ott's own quantity when unbalanced), ``f, g`` in the
    convention of the wassml solver with the same plan (NaN for ``"lr"``, which has no dual
    potentials), ``converged``, ``num_iters = out.n_iters``, ``error`` ott's last error.
    The call checks concrete inputs eagerly as the wassml solvers do (``ValueError``); under
    ``jit`` a NaN input gives NaN potentials and a non-finite error, on which ott-jax stops
    (its divergence test) with ``converged=False``.

  Raises:
    ValueError: ``epsilon <= 0``, ``rho <= 0``, an unknown ``solver`` name, ``"lr"`` without
      ``rank``, or keyword arguments together with a solver instance.

  Examples:
    >>> import jax.numpy as jnp
    >>> from wassml import ot
    >>> solve = ot.ott_solver(0.1)
    >>> res = solve(jnp.array([[0.0, 1.0], [1.0, 0.0]]))
    >>> round(float(res.plan.sum()), 4), bool(res.converged)
    (1.0, True)
  """
  uc.check_positive_scalar(epsilon, "epsilon")
  if rho is not None:
    uc.check_positive_scalar(rho, "rho")
  if solver is None:
    solver = "sinkhorn"
  if isinstance(solver, str):
    if solver not in SOLVERS:
      raise ValueError(f"solver must be one of {SOLVERS} or an ott-jax solver instance, got "
                       f"{solver!r}.")
    if solver == "lr" and "rank" not in solver_kwargs:
      raise ValueError("solver='lr' (ott LRSinkhorn) needs rank=... in the keyword arguments.")
  elif solver_kwargs:
    raise ValueError(f"solver_kwargs {sorted(solver_kwargs)} cannot be combined with a solver "
                     "instance; configure the instance instead.")

  # Lazy: ott-jax's import is paid by the first ott_solver() call, not by `import wassml.ot`.
  from ott.geometry import geometry
  from ott.problems.linear import linear_problem
  from ott.solvers.linear import sinkhorn as ott_sinkhorn
  from ott.solvers.linear import sinkhorn_lr as ott_sinkhorn_lr

  eps_value = float(epsilon)
  balanced = rho is None
  tau = 1.0 if balanced else float(rho) / (float(rho) + eps_value)
  built = {}

  def get_solver(dtype):
    """The ott solver instance (built once per dtype: its default threshold depends on it)."""
    if not isinstance(solver, str):
      return solver
    key = jnp.dtype(dtype).name
    if key not in built:
      kw = dict(solver_kwargs)
      kw.setdefault("threshold", default_tol(dtype))
      cls = ott_sinkhorn.Sinkhorn if solver == "sinkhorn" else ott_sinkhorn_lr.LRSinkhorn
      built[key] = cls(**kw)
    return built[key]

  @jax.jit
  def _solve(cost, a, b):
    s = get_solver(cost.dtype)
    eps = jnp.asarray(eps_value, cost.dtype)
    geom = geometry.Geometry(cost_matrix=cost, epsilon=eps_value)
    prob = linear_problem.LinearProblem(geom, a, b, tau_a=tau, tau_b=tau)
    out = s(prob)
    low_rank = isinstance(out, ott_sinkhorn_lr.LRSinkhornOutput)
    return _to_result(out, cost, a, b, eps, balanced, low_rank)

  def solve(cost: ArrayLike, a: Optional[ArrayLike] = None,
            b: Optional[ArrayLike] = None) -> OTResult:
    cost, a, b = prepare_problem(cost, a, b, balanced=balanced)
    return _solve(cost, a, b)

  solve.__doc__ = (f"ott-jax {solver if isinstance(solver, str) else type(solver).__name__} "
                   f"with epsilon={eps_value}, "
                   f"{'balanced' if balanced else f'rho={rho} (tau={tau:.6g})'}; see "
                   "wassml.ot.ott_adapter.ott_solver.")
  return solve
