"""Exact transportation LP by column generation, with a dual certificate.

    OT(a, b, C) = min_{P >= 0, P 1 = a, P^T 1 = b} <P, C>

The general-weights path of :func:`wassml.ot.emd`. A dense LP over all ``n m``
edges is exact but slow (HiGHS takes ~2 minutes on 784-bin histograms); an
optimal plan uses at most ``n + m - 1`` edges, so this module solves the LP on a
small candidate edge set and grows it until the duals certify optimality:

1. Zero-mass rows and columns are dropped (they carry no flow; exact) and the
   reduced problem is solved.
2. Candidate edges: for each row and each column the ``k`` edges of smallest
   reduced cost ``C_ij - f0_i - g0_j`` under approximate duals ``(f0, g0)``
   (:func:`annealed_sinkhorn_duals`, a short log-domain Sinkhorn with epsilon
   scaling on the host; the ``k`` cheapest edges when it is turned off), plus the
   north-west-corner solution, a feasible basis, so that the restricted LP is
   always feasible.
3. The restricted LP is solved by HiGHS's simplex; its duals ``(u, v)`` give the
   reduced costs ``C_ij - u_i - v_j`` on **all** edges (one vectorised pass).
   If some are negative, the ``add_k`` most negative per row and per column are
   added and the LP is re-solved from the previous basis (warm start).
4. It stops when no edge has reduced cost below ``-tol``: then ``(u, v)`` is
   dual feasible for the full problem and complementary to the restricted
   optimum, so the plan is optimal for the full problem (LP duality). This
   check, with the plan's non-negativity and marginals (checked too), is the
   certificate behind ``converged=True``; the number of LP solves is reported
   as ``rounds``.

HiGHS is scipy's vendored copy (``scipy.optimize._highspy``), used directly so
that columns can be added and the LP re-solved from its last basis; if that
private module is missing, each round is solved from scratch with
``scipy.optimize.linprog(method="highs-ds")`` (same result, slower).
"""

from __future__ import annotations

import dataclasses

import numpy as np

try:  # scipy >= 1.15 vendors the highspy bindings.
  from scipy.optimize._highspy import _core as _highs_core
except ImportError:  # pragma: no cover - depends on the scipy build
  _highs_core = None


@dataclasses.dataclass(frozen=True)
class TransportSolution:
  """Result of :func:`solve_transport` (numpy, float64).

  Attributes:
    plan: ``[n, m]`` optimal plan.
    f: ``[n]`` dual potentials of the rows.
    g: ``[m]`` dual potentials of the columns; ``f_i + g_j <= C_ij + tol`` on all
      edges and ``= C_ij`` on the support of ``plan``.
    value: ``<plan, C>``.
    converged: True when the LP solved and the duals certify optimality.
    rounds: number of restricted LP solves.
    num_edges: size of the final candidate edge set.
    min_reduced_cost: ``min_ij C_ij - f_i - g_j`` over all edges (the certificate).
  """
  plan: np.ndarray
  f: np.ndarray
  g: np.ndarray
  value: float
  converged: bool
  rounds: int
  num_edges: int
  min_reduced_cost: float


def annealed_sinkhorn_duals(cost: np.ndarray, a: np.ndarray, b: np.ndarray, *,
                            num_iters: int = 15, eps_start: float = 0.5,
                            eps_end: float = 3e-3) -> tuple[np.ndarray, np.ndarray]:
  """Approximate OT duals by a short log-domain Sinkhorn with epsilon scaling.

  Epsilon decreases geometrically from ``eps_start`` to ``eps_end`` times the
  mean cost over ``num_iters`` iterations (one ``f`` and one ``g`` update
  each), in float32 numpy on the host (vectorised ``exp``). The result is only
  a guess used to pick candidate edges: exactness comes from the LP
  certificate.

  Args:
    cost: ``[n, m]`` cost.
    a: ``[n]`` positive weights.
    b: ``[m]`` positive weights.
    num_iters: Sinkhorn iterations.
    eps_start: first epsilon relative to the mean cost.
    eps_end: last epsilon relative to the mean cost.

  Returns:
    ``(f, g)``, float64 ``[n]`` and ``[m]`` potentials.
  """
  c = np.asarray(cost, np.float32)
  la = np.log(np.asarray(a, np.float32))
  lb = np.log(np.asarray(b, np.float32))
  scale = max(float(np.mean(np.abs(c))), 1e-30)
  ratio = (eps_end / eps_start) ** (1.0 / max(num_iters - 1, 1))
  f = np.zeros(c.shape[0], np.float32)
  g = np.zeros(c.shape[1], np.float32)

  def softmin(z, axis):  # -log sum exp(z) along axis
    zmax = np.max(z, axis=axis, keepdims=True)
    return -(np.squeeze(zmax, axis) + np.log(np.sum(np.exp(z - zmax), axis=axis)))

  for t in range(num_iters):
    eps = np.float32(scale * eps_start * ratio ** t)
    f = eps * softmin((g[None, :] - c) / eps + lb[None, :], 1)
    g = eps * softmin((f[:, None] - c) / eps + la[:, None], 0)
  return f.astype(np.float64), g.astype(np.float64)


def northwest_corner(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Edges of the north-west-corner feasible plan: ``n + m - 1`` cells forming a
  spanning tree of the bipartite graph (a basis of the transportation LP)."""
  n, m = len(a), len(b)
  ca = np.concatenate([[0.0], np.cumsum(a)])
  cb = np.concatenate([[0.0], np.cumsum(b)])
  ca[-1] = cb[-1] = max(ca[-1], cb[-1])
  # Merge the cumulative breakpoints: cell (i, j) is used on each interval
  # between consecutive breakpoints; one index advances per step.
  i = j = 0
  rows, cols = [i], [j]
  for _ in range(n + m - 2):
    if i == n - 1:
      j += 1
    elif j == m - 1:
      i += 1
    elif ca[i + 1] < cb[j + 1]:
      i += 1
    else:
      j += 1
    rows.append(i), cols.append(j)
  return np.asarray(rows), np.asarray(cols)


def _k_smallest_mask(r: np.ndarray, k: int) -> np.ndarray:
  """Boolean mask of the ``k`` smallest entries of each row and each column."""
  n, m = r.shape
  mask = np.zeros((n, m), bool)
  kr, kc = min(k, m), min(k, n)
  if kr > 0:
    idx = np.argpartition(r, kr - 1, axis=1)[:, :kr] if kr < m else np.broadcast_to(
        np.arange(m), (n, m))
    mask[np.arange(n)[:, None], idx] = True
  if kc > 0:
    idx = np.argpartition(r, kc - 1, axis=0)[:kc, :] if kc < n else np.broadcast_to(
        np.arange(n)[:, None], (n, m))
    mask[idx, np.arange(m)[None, :]] = True
  return mask


class _RestrictedLP:
  """The transportation LP on a growing set of columns (edges).

  Rows: the ``n`` row-sum constraints and the first ``m - 1`` column-sum
  constraints (the last one is implied by the others)."""

  def __init__(self, cost, a, b, tol):
    self.cost, self.n, self.m = cost, len(a), len(b)
    # Masses are scaled so that the largest weight is 1: HiGHS's absolute feasibility
    # tolerances (>= 1e-10) then stay tiny relative to the weights. Duals are unaffected.
    self.mass_scale = 1.0 / max(float(a.max()), float(b.max()))
    self.rhs = np.concatenate([a, b[:-1]]) * self.mass_scale
    self.rows = np.zeros(0, np.int64)
    self.cols = np.zeros(0, np.int64)
    self.tol = max(0.1 * tol, 1e-10)  # HiGHS rejects feasibility tolerances below 1e-10
    self.h = None
    if _highs_core is not None:
      h = _highs_core._Highs()
      for name, val in (("output_flag", False), ("presolve", "off"),
                        ("simplex_strategy", 4),  # primal: the basis stays feasible
                        ("primal_feasibility_tolerance", self.tol),
                        ("dual_feasibility_tolerance", self.tol)):
        if h.setOptionValue(name, val) != _highs_core.HighsStatus.kOk:
          raise RuntimeError(f"HiGHS rejected option {name}={val!r}.")
      nr = len(self.rhs)
      h.addRows(nr, self.rhs, self.rhs, 0, np.zeros(nr, np.int32), np.zeros(0, np.int32),
                np.zeros(0))
      self.h = h

  def add(self, rows, cols):
    self.rows = np.concatenate([self.rows, rows])
    self.cols = np.concatenate([self.cols, cols])
    if self.h is None:
      return
    k = len(rows)
    idx = np.stack([rows, self.n + cols], 1)
    keep = idx < self.n + self.m - 1
    starts = np.concatenate([[0], np.cumsum(keep.sum(1))[:-1]]).astype(np.int32)
    idx = idx[keep].astype(np.int32)
    self.h.addCols(k, self.cost[rows, cols], np.zeros(k), np.full(k, np.inf), len(idx),
                   starts, idx, np.ones(len(idx)))

  def solve(self):
    """Returns ``(x, u, v, ok)``: flows on the columns and the duals."""
    n, m = self.n, self.m
    if self.h is not None:
      self.h.run()
      ok = self.h.getModelStatus() == _highs_core.HighsModelStatus.kOptimal
      sol = self.h.getSolution()
      x = np.asarray(sol.col_value)
      y = np.asarray(sol.row_dual)
    else:
      import scipy.sparse as sp
      from scipy.optimize import linprog
      k = len(self.rows)
      r = np.concatenate([self.rows, n + self.cols])
      c = np.concatenate([np.arange(k)] * 2)
      keep = r < n + m - 1
      A = sp.csc_matrix((np.ones(keep.sum()), (r[keep], c[keep])), shape=(n + m - 1, k))
      res = linprog(self.cost[self.rows, self.cols], A_eq=A, b_eq=self.rhs, bounds=(0, None),
                    method="highs-ds", options={"primal_feasibility_tolerance": self.tol,
                                                "dual_feasibility_tolerance": self.tol})
      ok = res.status == 0
      if not ok:
        return None, None, None, False
      x, y = res.x, res.eqlin.marginals
    return x / self.mass_scale, y[:n], np.concatenate([y[n:], [0.0]]), bool(ok)


def solve_transport(cost, a, b, f0=None, g0=None, *, warm_start_iters: int = 20, k: int = 5,
                    add_k: int = 3, tol: float = 1e-10, max_rounds: int = 1000
                    ) -> TransportSolution:
  """Exact transportation LP by column generation (see module docstring).

  Args:
    cost: ``[n, m]`` finite cost.
    a: ``[n]`` non-negative weights (normalised to sum 1 here).
    b: ``[m]`` non-negative weights (normalised to sum 1 here).
    f0: optional ``[n]`` approximate row duals used to pick the first candidates
      (default: :func:`annealed_sinkhorn_duals` on the reduced problem).
    g0: optional ``[m]`` approximate column duals.
    warm_start_iters: Sinkhorn iterations for the default duals; 0 picks the
      first candidates by cost alone.
    k: first candidates per row and per column (smallest reduced cost, or
      smallest cost without duals).
    add_k: edges added per row and per column in each round (most negative
      reduced costs only).
    tol: optimality tolerance on reduced costs, relative to ``max |C|``, and on
      the plan's marginals and sign, relative to the largest weight (the LP's
      own feasibility tolerances are ``max(tol / 10, 1e-10)`` on masses scaled
      to a largest weight of 1).
    max_rounds: safety bound on LP solves (``converged=False`` beyond it).

  Returns:
    A :class:`TransportSolution` on the full (unreduced) problem.

  Raises:
    ValueError: on shapes that do not match, non-finite costs, or weights that
      are negative, non-finite or of zero total mass.
  """
  cost = np.asarray(cost, np.float64)
  a = np.asarray(a, np.float64)
  b = np.asarray(b, np.float64)
  if cost.ndim != 2 or a.shape != (cost.shape[0],) or b.shape != (cost.shape[1],):
    raise ValueError(f"need cost [n, m], a [n], b [m]; got shapes {cost.shape}, {a.shape}, "
                     f"{b.shape}.")
  if not np.all(np.isfinite(cost)):
    raise ValueError("cost must be finite.")
  for name, w in (("a", a), ("b", b)):
    if not np.all(np.isfinite(w)) or w.min() < 0 or w.sum() <= 0:
      raise ValueError(f"{name} must be finite and non-negative with positive mass.")
  n, m = cost.shape
  a = a / a.sum()
  b = b / b.sum()
  ia, ib = np.flatnonzero(a > 0), np.flatnonzero(b > 0)
  cr = cost[np.ix_(ia, ib)]
  ar, br = a[ia], b[ib]
  nr, mr = cr.shape
  scale = max(float(np.max(np.abs(cr))), 1e-300)
  abs_tol = tol * scale
  if f0 is not None and g0 is not None:
    f0 = np.asarray(f0, np.float64)[ia]
    g0 = np.asarray(g0, np.float64)[ib]
  elif warm_start_iters > 0 and nr > 1 and mr > 1:
    f0, g0 = annealed_sinkhorn_duals(cr, ar, br, num_iters=warm_start_iters)
  red0 = cr
  if f0 is not None:
    red0 = cr - f0[:, None] - g0[None, :]
    if not np.all(np.isfinite(red0)):
      red0 = cr
  in_set = _k_smallest_mask(red0, k)
  nw_r, nw_c = northwest_corner(ar, br)
  in_set[nw_r, nw_c] = True
  lp = _RestrictedLP(cr, ar, br, tol)
  rows, cols = np.nonzero(in_set)
  lp.add(rows, cols)
  rounds, ok = 0, False
  x = u = v = None
  red_min = -np.inf
  while rounds < max_rounds:
    rounds += 1
    x, u, v, ok = lp.solve()
    if not ok:
      break
    red = cr - u[:, None] - v[None, :]
    red_min = float(red.min())
    if red_min >= -abs_tol or rounds >= max_rounds:
      break
    red[in_set] = np.inf  # restricted edges already satisfy the LP's own tolerance
    new = _k_smallest_mask(red, add_k) & (red < -abs_tol)
    if not new.any():  # only in-set edges violate: nothing to add
      break
    rows, cols = np.nonzero(new)
    in_set |= new
    lp.add(rows, cols)
  if not ok:
    nan = np.full((n, m), np.nan)
    return TransportSolution(nan, np.zeros(n), np.zeros(m), float("nan"), False, rounds,
                             int(in_set.sum()), float("nan"))
  wmax = max(float(ar.max()), float(br.max()))
  plan_r = np.zeros((nr, mr))
  np.add.at(plan_r, (lp.rows, lp.cols), x)
  primal_ok = bool(plan_r.min() >= -tol * wmax
                   and np.abs(plan_r.sum(1) - ar).max() <= tol * wmax
                   and np.abs(plan_r.sum(0) - br).max() <= tol * wmax)
  plan_r = np.maximum(plan_r, 0.0)
  plan = np.zeros((n, m))
  plan[np.ix_(ia, ib)] = plan_r
  # Duals of the dropped (zero-mass) rows/columns: the largest values keeping
  # f_i + g_j <= C_ij; they carry no flow, so the dual objective is unchanged.
  f = np.zeros(n)
  g = np.zeros(m)
  f[ia], g[ib] = u, v
  zr = np.setdiff1d(np.arange(n), ia)
  zc = np.setdiff1d(np.arange(m), ib)
  if zc.size:
    g[zc] = np.min(cost[np.ix_(ia, zc)] - u[:, None], axis=0)
  if zr.size:
    f[zr] = np.min(cost[zr] - g[None, :], axis=1)
  red_all = float(np.min(cost - f[:, None] - g[None, :]))
  converged = bool(ok and primal_ok and red_min >= -abs_tol and red_all >= -abs_tol)
  return TransportSolution(plan, f, g, float(np.sum(plan * cost)), converged, rounds,
                           int(in_set.sum()), red_all)
