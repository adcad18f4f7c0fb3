"""Exact optimal transport.

    OT(a, b, C) = min_{P >= 0, P 1 = a, P^T 1 = b} <P, C>

Two solvers, chosen by ``method``:

- ``"auction"`` (JAX-native; the ``"auto"`` choice for uniform square problems
  ``a = b = 1/n``, i.e. minibatches, on GPU/TPU backends): a Jacobi (parallel-bid) auction with
  epsilon scaling (Bertsekas), written with ``lax.while_loop``; it jits and
  vmaps (a custom vmap rule solves a batch one problem after another with
  ``lax.map``, see ``_sequential_auction``) and returns a permutation
  plan ``P = perm / n``. With final ``eps_final`` the assignment is within
  ``n * eps_final`` of optimal in total cost, i.e. within ``eps_final`` in
  ``<P, C>``; ``eps_final`` defaults to ``1e-6`` (float32) / ``1e-9`` (float64)
  times the cost range, so the value agrees with an LP solver to that absolute
  accuracy (and is typically exactly optimal).
- ``"host"`` (any weights, rectangular problems): a ``jax.pure_callback``
  (``vmap_method="sequential"``) to scipy on the host, float64. For float64
  inputs turn x64 on globally (``jax.config.update("jax_enable_x64", True)``):
  the ``jax.enable_x64`` context manager is thread-local, and the callback may
  run on an XLA thread where jax then rejects its float64 result. Solvers:
  ``scipy.optimize.linear_sum_assignment`` for uniform square problems and,
  otherwise, the transportation LP by column generation with HiGHS
  (:mod:`wassml.ot.colgen`): zero-mass bins are dropped, the LP is solved on a
  small candidate edge set picked with approximate Sinkhorn duals, and edges
  are added until the LP duals have no negative reduced cost on any of the
  ``n m`` edges, which certifies optimality (``converged``; ``num_iters`` is the
  number of LP solves). It is exact but runs on the CPU host, one problem at a
  time, outside XLA (no fusion, a device-host copy on accelerators). On 784-bin
  (28 x 28) image histograms it takes ~0.1-0.3 s per problem, a few times POT's
  network simplex (the dense LP it replaces took ~2 minutes; docs/ot.md).

Gradients: ``d transport_cost / d C = P`` (envelope theorem, plan held fixed), exact
wherever the optimal plan is unique; ``d / d a`` and ``d / d b`` are the centred dual
potentials ``f - mean(f)``, ``g - mean(g)`` (as POT's ``ot.emd2``), the derivative along the
simplex wherever the duals are unique.
"""

from __future__ import annotations

import functools
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from wassml.ot import colgen
from wassml.ot.checks import prepare_problem
from wassml.ot.result import OTResult
from wassml.utils import checks as uc
from wassml.utils import linalg

METHODS = ("auto", "auction", "host")
AUCTION_BATCHING = ("sequential", "parallel")


# ----------------------------------------------------------------------------
# Auction (JAX-native).
# ----------------------------------------------------------------------------
def default_eps_final(dtype) -> float:
  """Final auction epsilon relative to the cost range."""
  return 1e-6 if jnp.finfo(dtype).bits <= 32 else 1e-9


@functools.partial(jax.jit, static_argnames=("chunk", "max_rounds"))
def auction_assignment(cost: jax.Array, *, eps_final_rel: float, eps_factor: float = 20.0,
                       eps_init_rel: float = 0.01, chunk: int = 64,
                       max_rounds: int = 200_000):
  """Min-cost assignment of a square cost by auction with epsilon scaling.

  Args:
    cost: ``[n, n]`` cost.
    eps_final_rel: final epsilon as a fraction of ``max(C) - min(C)``.
    eps_factor: epsilon is divided by this at each scaling phase.
    eps_init_rel: first epsilon as a fraction of the cost range.
    chunk: at most this many unassigned persons bid per round (Jacobi rounds
      over a bounded block: each round costs ``O(chunk * n)``).
    max_rounds: safety bound on the total number of bidding rounds.

  Returns:
    ``(perm, prices, rounds, ok)``: ``perm: [n]`` int, person ``i`` gets
    object ``perm[i]``; ``prices: [n]``; ``rounds``; ``ok`` (finished
    within ``max_rounds``).
  """
  n = cost.shape[0]
  dt = cost.dtype
  K = min(chunk, n)
  cmin = jnp.min(cost)
  span = jnp.maximum(jnp.max(cost) - cmin, jnp.finfo(dt).tiny)
  benefit = -(cost - cmin) / span  # in [-1, 0]
  eps_final = jnp.asarray(eps_final_rel, dt)
  ar_n = jnp.arange(n)
  ar_k = jnp.arange(K)

  def round_body(s):
    p, obj, owner, eps, r = s
    idx = jnp.nonzero(obj < 0, size=K, fill_value=n)[0]
    valid = idx < n
    rows = benefit[jnp.minimum(idx, n - 1)]
    vals = rows - p[None, :]
    # Best and second-best values (two reductions: cheaper than lax.top_k on CPU).
    j1 = jnp.argmax(vals, axis=1)
    second = jnp.max(jnp.where(ar_n[None, :] == j1[:, None], -jnp.inf, vals), axis=1)
    bid = rows[ar_k, j1] - second + eps
    bid = jnp.where(valid, bid, -jnp.inf)
    best = jnp.full((n,), -jnp.inf, dt).at[j1].max(bid)
    win = jnp.full((n,), -1, jnp.int32).at[j1].max(
        jnp.where(valid & (bid >= best[j1]), idx, -1).astype(jnp.int32))
    has = win >= 0
    lose = jnp.where(has & (owner >= 0), owner, n)
    obj = obj.at[lose].set(-1, mode="drop")
    obj = obj.at[jnp.where(has, win, n)].set(ar_n.astype(jnp.int32), mode="drop")
    owner = jnp.where(has, win, owner)
    p = jnp.where(has, best, p)
    return p, obj, owner, eps, r + 1

  def round_cond(s):
    _, obj, _, _, r = s
    return jnp.any(obj < 0) & (r < max_rounds)

  def phase_body(s):
    p, obj, owner, eps, r, _ = s
    p, obj, owner, eps, r = jax.lax.while_loop(round_cond, round_body, (p, obj, owner, eps, r))
    finished = (eps <= eps_final) | (r >= max_rounds)
    new_eps = jnp.maximum(eps / eps_factor, eps_final)
    # Keep the assignments that satisfy new_eps-complementary slackness.
    vals = benefit - p[None, :]
    mine = vals[ar_n, jnp.maximum(obj, 0)]
    keep = mine >= jnp.max(vals, axis=1) - new_eps
    keep = keep | finished
    obj2 = jnp.where(keep, obj, -1)
    owner2 = jnp.where((owner >= 0) & keep[jnp.maximum(owner, 0)], owner, -1)
    p2 = p - jnp.min(p)
    return (jnp.where(finished, p, p2), jnp.where(finished, obj, obj2),
            jnp.where(finished, owner, owner2), jnp.where(finished, eps, new_eps), r, finished)

  eps0 = jnp.maximum(jnp.asarray(eps_init_rel, dt), eps_final)
  init = (jnp.zeros((n,), dt), jnp.full((n,), -1, jnp.int32), jnp.full((n,), -1, jnp.int32),
          eps0, jnp.asarray(0, jnp.int32), jnp.asarray(False))
  p, obj, owner, eps, r, _ = jax.lax.while_loop(lambda s: ~s[-1], phase_body, init)
  ok = jnp.all(obj >= 0)
  return jnp.maximum(obj, 0), p * span, r, ok


@functools.lru_cache(maxsize=32)
def _sequential_auction(eps_final_rel: float, chunk: int):
  """The auction with a custom vmap rule: a batch is solved one problem after
  another (``lax.map``) inside the compiled program. A batched ``while_loop``
  would run every problem for as many rounds as the slowest one, with rounds
  ``B`` times wider; measured ~5x slower on CPU (docs/ot.md)."""

  @jax.custom_batching.custom_vmap
  def fn(cost):
    return auction_assignment(cost, eps_final_rel=eps_final_rel, chunk=chunk)

  @fn.def_vmap
  def _rule(axis_size, in_batched, cost):
    del axis_size
    (batched,) = in_batched
    if not batched:
      return fn(cost), (False,) * 4
    return jax.lax.map(fn, cost), (True,) * 4

  return fn


def _emd_auction(cost, eps_final_rel, chunk, batching):
  n = cost.shape[0]
  dt = cost.dtype
  if n == 1:
    perm = jnp.zeros((1,), jnp.int32)
    prices = jnp.zeros((1,), dt)
    rounds = jnp.asarray(0, jnp.int32)
    ok = jnp.asarray(True)
  else:
    solve = (_sequential_auction(eps_final_rel, chunk) if batching == "sequential" else
             functools.partial(auction_assignment, eps_final_rel=eps_final_rel, chunk=chunk))
    perm, prices, rounds, ok = solve(jax.lax.stop_gradient(cost))
  plan = jax.nn.one_hot(perm, n, dtype=dt) / n
  # Dual potentials (eps-complementary slackness): g = -prices, f_i = min_j C_ij - g_j.
  c_sg = jax.lax.stop_gradient(cost)
  g = -prices
  f = jnp.min(c_sg - g[None, :], axis=1)
  return plan, f, g, ok, rounds


# ----------------------------------------------------------------------------
# Host LP (scipy).
# ----------------------------------------------------------------------------
def assignment_duals(cost: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Optimal duals of an assignment ``i -> cols[i]`` (optimal for ``cost``).

  ``f_i + g_j <= C_ij`` with equality on the assignment: ``f_i = C_{i, s(i)} - g_{s(i)}``, and
  ``g`` solves the difference constraints ``g_j <= g_k + C_{r(k), j} - C_{r(k), k}`` (``r(k)``
  the row assigned to column ``k``), i.e. shortest paths on the columns from a virtual source,
  by Bellman-Ford relaxations (vectorised, ``O(n^2)`` each; optimality of the assignment means
  no negative cycle, so at most ``n`` rounds).
  """
  n = cost.shape[0]
  row_of = np.empty(n, np.int64)
  row_of[cols] = np.arange(n)
  W = cost[row_of] - cost[row_of, np.arange(n)][:, None]
  g = np.zeros(n)
  for _ in range(n + 1):
    new = np.minimum(g, (g[:, None] + W).min(axis=0))
    if np.array_equal(new, g):
      break
    g = new
  f = cost[np.arange(n), cols] - g[cols]
  return f, g


def _host_lp_numpy(cost, a, b, need_duals=True):
  """Exact OT on the host in float64; returns (plan, f, g, ok, rounds).

  Uniform square problems: ``scipy.optimize.linear_sum_assignment`` (duals recovered by
  :func:`assignment_duals` when ``need_duals``, else zeros). Otherwise the transportation LP by
  column generation with a dual certificate (:func:`wassml.ot.colgen.solve_transport`).
  """
  from scipy.optimize import linear_sum_assignment

  cost = np.asarray(cost, np.float64)
  a = np.asarray(a, np.float64)
  b = np.asarray(b, np.float64)
  n, m = cost.shape
  a = a / a.sum()
  b = b / b.sum()
  # Uniform up to float32 rounding of 1/n (inputs may come from float32 arrays).
  if n == m and np.allclose(a, 1.0 / n, rtol=1e-6, atol=0) and np.allclose(
      b, 1.0 / m, rtol=1e-6, atol=0):
    rows, cols = linear_sum_assignment(cost)
    plan = np.zeros((n, m))
    plan[rows, cols] = 1.0 / n
    if need_duals:
      f, g = assignment_duals(cost, cols)
    else:
      f, g = np.zeros(n), np.zeros(m)
    return plan, f, g, True, 1
  sol = colgen.solve_transport(cost, a, b)
  return sol.plan, sol.f, sol.g, sol.converged, sol.rounds


def _emd_host(cost, a, b, need_duals):
  n, m = cost.shape
  dt = cost.dtype

  def cb(c, aa, bb):
    plan, f, g, ok, rounds = _host_lp_numpy(c, aa, bb, need_duals)
    return (plan.astype(dt), f.astype(dt), g.astype(dt), np.asarray(ok),
            np.asarray(rounds, np.int32))

  shapes = (jax.ShapeDtypeStruct((n, m), dt), jax.ShapeDtypeStruct((n,), dt),
            jax.ShapeDtypeStruct((m,), dt), jax.ShapeDtypeStruct((), jnp.bool_),
            jax.ShapeDtypeStruct((), jnp.int32))
  sg = jax.lax.stop_gradient
  plan, f, g, ok, rounds = jax.pure_callback(cb, shapes, sg(cost), sg(a), sg(b),
                                             vmap_method="sequential")
  return plan, f, g, ok, rounds


def _assignment_host(cost):
  """Uniform square problems (``a = b = None``) on the host: only the assignment crosses back
  (``n`` integers, not the ``n x n`` plan), and no duals are recovered."""
  from scipy.optimize import linear_sum_assignment
  n = cost.shape[0]

  def cb(c):
    _, cols = linear_sum_assignment(np.asarray(c, np.float64))
    return cols.astype(np.int32)

  cols = jax.pure_callback(cb, jax.ShapeDtypeStruct((n,), jnp.int32),
                           jax.lax.stop_gradient(cost), vmap_method="sequential")
  plan = jax.nn.one_hot(cols, n, dtype=cost.dtype) / n
  zeros = jnp.zeros((n,), cost.dtype)
  return plan, zeros, zeros, jnp.asarray(True), jnp.asarray(1, jnp.int32)


@functools.partial(jax.jit, static_argnames=("method", "eps_final_rel", "chunk", "batching",
                                             "need_duals"))
def _emd(cost, a, b, method, eps_final_rel, chunk, batching, need_duals):
  if method == "auction":
    plan, f, g, ok, iters = _emd_auction(cost, eps_final_rel, chunk, batching)
  elif not need_duals and cost.shape[0] == cost.shape[1]:
    plan, f, g, ok, iters = _assignment_host(cost)
  else:
    plan, f, g, ok, iters = _emd_host(cost, a, b, need_duals)
  sg = jax.lax.stop_gradient
  plan, f, g = sg(plan), sg(f), sg(g)
  # Envelope gradients: d/dC = P; d/da, d/db = the centred duals (as POT's emd2), a
  # derivative along the simplex (any constant shift of f, g gives the same one there).
  value = (jnp.sum(plan * cost) + linalg.matmul(f - jnp.mean(f), a - sg(a))
           + linalg.matmul(g - jnp.mean(g), b - sg(b)))
  return OTResult(transport_cost=value, plan=plan, objective=value, f=f, g=g, converged=ok,
                  num_iters=iters, error=jnp.zeros((), cost.dtype))


def emd(
    cost: ArrayLike,
    a: Optional[ArrayLike] = None,
    b: Optional[ArrayLike] = None,
    *,
    method: str = "auto",
    eps_final: Optional[float] = None,
    chunk: int = 64,
    batching: str = "sequential",
) -> OTResult:
  """Exact OT ``min_{P 1 = a, P^T 1 = b} <P, C>``.

  ``method="auto"`` uses the JAX-native auction when ``a`` and ``b`` are None
  (uniform), the cost is square and the default backend is an accelerator;
  otherwise the host path (on CPU, scipy's ``linear_sum_assignment`` is faster
  than the XLA auction: see ``docs/ot.md``). The host path
  is exact for any weights but runs scipy on the CPU host one problem at a
  time (``pure_callback``), so it cannot be fused or run on an accelerator;
  the auction is vmappable XLA code, exact up to ``eps_final`` (see module
  docstring).

  Args:
    cost: ``[n, m]`` finite cost matrix.
    a: ``[n]`` probability vector or None (uniform).
    b: ``[m]`` probability vector or None (uniform).
    method: ``"auto"``, ``"auction"`` (uniform square only) or ``"host"``.
    eps_final: auction's final epsilon relative to the cost range
      (default 1e-6 in float32, 1e-9 in float64).
    chunk: auction bidders per round (performance knob).
    batching: how the auction runs under ``vmap``: ``"sequential"`` (default; the problems one
      after another inside the compiled program, each for its own number of rounds) or
      ``"parallel"`` (one batched ``while_loop``: every problem runs as many rounds as the
      slowest, in rounds ``B`` times wider). On a CPU sequential was about 5x faster
      (``docs/ot.md``). On a GPU a round is latency-bound, so parallel should pay only the slowest
      problem's rounds; that has not been measured yet (``bench_ot`` times both on
      accelerators). Same results either way.

  Returns:
    :class:`OTResult` with ``transport_cost = objective = <P, C>``, ``plan: [n, m]``,
    ``f: [n]``, ``g: [m]`` dual potentials (auction: from the prices, up to
    eps; host LP: certified optimal LP duals, ``f_i + g_j <= C_ij`` on every
    edge with equality on the plan's support; uniform square host path: optimal duals
    recovered from the assignment when ``a`` or ``b`` is given, zeros when both are None,
    where the weights are constants and nothing can be differentiated in them),
    ``error = 0``, ``converged`` (host LP: the dual certificate holds) and
    ``num_iters`` (auction rounds; host LP: LP solves of the column
    generation; 1 for ``linear_sum_assignment``).

  Raises:
    ValueError: bad shapes or weights, or ``method="auction"`` on a problem
      that is not uniform and square.
  Examples:
    >>> import jax.numpy as jnp
    >>> from wassml import ot
    >>> cost = jnp.array([[0.0, 1.0], [1.0, 0.0]])
    >>> res = ot.emd(cost)
    >>> float(res.transport_cost), res.plan.tolist()
    (0.0, [[0.5, 0.0], [0.0, 0.5]])
  """
  if method not in METHODS:
    raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
  uniform_square = a is None and b is None and jnp.ndim(cost) == 2 and (
      jnp.shape(cost)[0] == jnp.shape(cost)[1])
  if method == "auction" and not uniform_square:
    # Accept explicit weights only when they are concretely uniform.
    ca = None if a is None else uc.concrete(a)
    cb = None if b is None else uc.concrete(b)
    shp = jnp.shape(cost)
    if (jnp.ndim(cost) != 2 or shp[0] != shp[1] or (a is not None and ca is None)
        or (b is not None and cb is None)
        or (ca is not None and not np.allclose(ca, 1.0 / shp[0]))
        or (cb is not None and not np.allclose(cb, 1.0 / shp[1]))):
      raise ValueError(
          "method='auction' needs a square cost and uniform weights (a=None, b=None); got "
          f"cost of shape {tuple(shp)} and explicit weights. Use method='host'.")
    uniform_square = True
  # Duals (and the weights' gradient) only matter when weights are given: with a = b = None
  # the uniform weights are constants, and the host assignment path skips the dual recovery.
  need_duals = a is not None or b is not None
  cost, a, b = prepare_problem(cost, a, b, balanced=True)
  if method == "auto":
    # Measured (docs/ot.md): on a CPU backend scipy's linear_sum_assignment on the
    # host beats both POT and the XLA auction; on accelerators the auction avoids
    # host round trips.
    method = "auction" if (uniform_square and jax.default_backend() != "cpu") else "host"
  if eps_final is None:
    eps_final = default_eps_final(cost.dtype)
  if int(chunk) < 1:
    raise ValueError(f"chunk must be >= 1, got {chunk!r}.")
  if batching not in AUCTION_BATCHING:
    raise ValueError(f"batching must be one of {AUCTION_BATCHING}, got {batching!r}.")
  return _emd(cost, a, b, method, float(eps_final), int(chunk), batching, need_duals)
