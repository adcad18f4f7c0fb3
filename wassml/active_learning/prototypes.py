"""Wasserstein prototypes (Ducoffe thesis ch. 9) and the MMD prototypes baseline.

``S*_K = argmin_{S ⊂ C, |S| = K} W_p(S, P)``: the ``K`` points of a candidate set ``C`` whose
uniform empirical measure is closest to the target measure ``P`` (uniform on ``x_target``). The
problem is combinatorial; the greedy algorithm adds, one point at a time, the candidate that
minimises ``W_p(S ∪ {c}, P)`` (Theorem 2.1 of ch. 9 bounds its error). Any OT solver
``solver(cost, a, b) -> OTResult`` of :mod:`wassml.ot` can score the candidates: exact OT
(``wassml.ot.emd``), Sinkhorn or IPOT (the thesis uses ``eps = 1e-3`` and 10 iterations).

Costs handed to the solver are divided by ``cost_scale`` (default: the largest ``||x - y||^p``
between the candidates and the target), so entropic ``epsilon`` values are relative to the
data's spread; reported distances are in the data's units.

A fixed set (e.g. BalNet's labelled set ``A``) may be included in ``S`` from the start: then the
greedy step minimises ``W_p(A ∪ S ∪ {c}, P)`` (thesis eq. 5.15).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from tqdm.auto import tqdm

__all__ = [
    "PrototypeResult",
    "greedy_wasserstein_prototypes",
    "greedy_mmd_prototypes",
    "random_prototypes",
    "wasserstein_to_target",
]


@dataclasses.dataclass
class PrototypeResult:
  """Greedy prototypes.

  Attributes:
    indices: ``[K]`` int indices into the candidates, in the order chosen.
    objective: ``[K]`` the criterion after each addition (``W_p`` for Wasserstein prototypes, in
      data units as estimated by the solver used; ``MMD^2`` for MMD prototypes; NaN for random).
  """

  indices: np.ndarray
  objective: np.ndarray


_PAD_MASS = 1e-7


def _check(x_candidates, x_target, k, x_fixed):
  xc = np.asarray(x_candidates, np.float32)
  xt = np.asarray(x_target, np.float32)
  if xc.ndim != 2 or xt.ndim != 2 or xc.shape[1] != xt.shape[1]:
    raise ValueError(f"prototypes: candidates [n, d] and target [m, d] must be 2-D with the same d, "
                     f"got {xc.shape} and {xt.shape}")
  if not 1 <= k <= xc.shape[0]:
    raise ValueError(f"prototypes: k={k} must be between 1 and the number of candidates {xc.shape[0]}")
  xf = np.zeros((0, xc.shape[1]), np.float32) if x_fixed is None else np.asarray(x_fixed, np.float32)
  if xf.ndim != 2 or xf.shape[1] != xc.shape[1]:
    raise ValueError(f"prototypes: x_fixed must be [n0, {xc.shape[1]}], got {xf.shape}")
  return xc, xt, xf


def _cost(x, y, p):
  from wassml.ot import costs  # noqa: PLC0415 (lazy: the OT core loads on first use)

  return costs.sqeuclidean(x, y) if p == 2 else costs.euclidean_power(x, y, p)


@functools.lru_cache(maxsize=16)
def _batched_solver(solver: Callable):
  """``jit(vmap(solver(...).transport_cost))`` over a stack of costs, built once per solver object.

  Cached so that later calls (e.g. every round of an active-learning run, with
  ``strategies.make_solver`` returning the same solver object) reuse the compiled program.
  """
  return jax.jit(jax.vmap(lambda c, a_, b_: solver(c, a_, b_).transport_cost, in_axes=(0, None, None)))


def _batched_costs(solver, costs, a, b, num_valid):
  """Solver values of the first ``num_valid`` problems of ``costs: [B, n, m]``.

  The jitted vmap when the solver traces (all ``B``, a fixed shape), else a host loop over the
  valid ones only.
  """
  try:
    return np.asarray(_batched_solver(solver)(costs, a, b))[:num_valid]
  except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError, TypeError):
    return np.asarray([float(solver(c, a, b).transport_cost) for c in costs[:num_valid]])


def greedy_wasserstein_prototypes(
    x_candidates: ArrayLike,
    x_target: ArrayLike,
    k: int,
    *,
    solver: Callable,
    p: int = 2,
    x_fixed: ArrayLike | None = None,
    cost_scale: float | None = None,
    chunk_size: int = 256,
    pad: bool = False,
    row_bucket: int | None = None,
    progress: bool = False,
) -> PrototypeResult:
  """Greedy Wasserstein prototypes.

  Args:
    x_candidates: ``[n, d]`` points to choose from.
    x_target: ``[m, d]`` the target measure's support (uniform weights).
    k: number of prototypes (``1 <= k <= n``).
    solver: ``solver(cost [s, m], a [s], b [m]) -> OTResult``, e.g. ``wassml.ot.emd`` or
      ``functools.partial(wassml.ot.sinkhorn, epsilon=1e-3, num_iters=10)``.
    p: ground cost ``||x - y||^p``; ``W_p = OT^{1/p}``.
    x_fixed: ``[n0, d]`` points always in the selected measure (default none).
    cost_scale: divides the cost given to the solver (default: max candidate-target cost).
    chunk_size: candidates scored per vmapped solver call (the last chunk of each step is padded,
      so a jitted solver compiles once per call instead of once per step).
    pad: give the solver a fixed ``[n0 + k, m]`` problem at every step, the unused rows (zero
      cost) with mass 1e-7 each, so a jitted solver compiles once instead of once per step (the
      value moves by at most ``1e-7 k`` of the cost scale). Use with ``ot.emd`` and ``ot.ipot``;
      log-domain Sinkhorn at ``epsilon = 1e-3`` handles such rows less gracefully.
    row_bucket: with ``pad``, pad the rows only up to the next multiple of ``row_bucket`` (at
      most ``n0 + k``) instead of ``n0 + k``: smaller problems early in the greedy, at the price of
      one compilation per bucket (kept for later calls with the same solver). None: ``n0 + k``.
    progress: show a tqdm bar.

  Returns:
    A :class:`PrototypeResult`; ``objective[t] = W_p(x_fixed ∪ S_{t+1}, P)`` as the solver
    estimates it.
  """
  xc, xt, xf = _check(x_candidates, x_target, k, x_fixed)
  c_all = np.asarray(_cost(xc, xt, p))  # [n, m]
  c_fix = np.asarray(_cost(xf, xt, p)) if len(xf) else np.zeros((0, xt.shape[0]), np.float32)
  scale = float(cost_scale) if cost_scale is not None else float(max(c_all.max(), 1e-12))
  m = xt.shape[0]
  b = jnp.full((m,), 1.0 / m)
  chosen: list[int] = []
  objective = []
  available = np.ones(xc.shape[0], bool)
  size = min(chunk_size, xc.shape[0])  # every chunk padded to this: one compiled program per call
  for _ in tqdm(range(k), desc="prototypes", disable=not progress, leave=False):
    base = np.concatenate([c_fix, c_all[chosen]], axis=0) / scale  # [s - 1, m]
    s = base.shape[0] + 1
    bucket = row_bucket or (len(c_fix) + k)
    rows = min(len(c_fix) + k, -(-s // bucket) * bucket) if pad else s
    # padded rows get a negligible mass (IPOT's scalings divide by row sums, so not exactly 0)
    a = jnp.asarray(np.concatenate([np.full(s, (1.0 - _PAD_MASS * (rows - s)) / s), np.full(rows - s, _PAD_MASS)]),
                    jnp.float32)
    tail = np.zeros((rows - s, m), np.float32)
    cand = np.flatnonzero(available)
    vals = []
    for i in range(0, len(cand), size):
      idx = cand[i : i + size]
      num_valid = len(idx)
      idx = np.concatenate([idx, np.full(size - num_valid, idx[0])])  # padded: the same shape every step
      stack = np.concatenate([np.broadcast_to(base, (size,) + base.shape), (c_all[idx] / scale)[:, None, :],
                              np.broadcast_to(tail, (size,) + tail.shape)], axis=1)
      vals.append(_batched_costs(solver, jnp.asarray(stack, jnp.float32), a, b, num_valid))
    vals = np.concatenate(vals)
    vals = np.where(np.isfinite(vals), vals, np.inf)
    j = int(cand[int(np.argmin(vals))])
    chosen.append(j)
    available[j] = False
    objective.append(max(float(np.min(vals)), 0.0) * scale)
  obj = np.asarray(objective) ** (1.0 / p)
  return PrototypeResult(indices=np.asarray(chosen, np.int64), objective=obj)


def _rbf(x, y, gamma):
  d = np.maximum((x * x).sum(1)[:, None] + (y * y).sum(1)[None] - 2 * x @ y.T, 0.0)
  return np.exp(-gamma * d)


def greedy_mmd_prototypes(
    x_candidates: ArrayLike,
    x_target: ArrayLike,
    k: int,
    *,
    bandwidth: float | None = None,
    x_fixed: ArrayLike | None = None,
) -> PrototypeResult:
  """Greedy MMD prototypes (Kim et al. 2016): minimise ``MMD^2(S, P)`` with a Gaussian kernel.

  Args:
    x_candidates: ``[n, d]``.
    x_target: ``[m, d]``.
    k: number of prototypes.
    bandwidth: kernel ``exp(-||x-y||^2 / (2 h^2))``; default the median heuristic
      ``h^2 = median ||x - y||^2 / 2`` over the target.
    x_fixed: ``[n0, d]`` points always selected.

  Returns:
    :class:`PrototypeResult` with ``objective = MMD^2`` after each addition.
  """
  xc, xt, xf = _check(x_candidates, x_target, k, x_fixed)
  xc, xt, xf = (v.astype(np.float64) for v in (xc, xt, xf))
  if bandwidth is None:
    d = ((xt[:, None] - xt[None]) ** 2).sum(-1) if len(xt) <= 2000 else ((xt[:2000, None] - xt[None, :2000]) ** 2).sum(-1)
    h2 = max(np.median(d[d > 0]) / 2.0, 1e-12) if np.any(d > 0) else 1.0
  else:
    h2 = float(bandwidth) ** 2
  gamma = 1.0 / (2.0 * h2)
  m = len(xt)
  k_cp = _rbf(xc, xt, gamma).sum(1)  # [n]
  k_cc_diag = np.ones(len(xc))
  k_tt = _rbf(xt, xt, gamma).mean()
  sel = xf
  k_cs = _rbf(xc, sel, gamma).sum(1) if len(sel) else np.zeros(len(xc))
  sum_ss = _rbf(sel, sel, gamma).sum() if len(sel) else 0.0
  sum_sp = _rbf(sel, xt, gamma).sum() if len(sel) else 0.0
  available = np.ones(len(xc), bool)
  chosen, objective = [], []
  for _ in range(k):
    s1 = len(sel) + 1
    mmd = (sum_ss + 2 * k_cs + k_cc_diag) / s1**2 - 2 * (sum_sp + k_cp) / (s1 * m) + k_tt
    mmd = np.where(available, mmd, np.inf)
    j = int(np.argmin(mmd))
    chosen.append(j)
    objective.append(float(mmd[j]))
    available[j] = False
    sum_ss += 2 * k_cs[j] + 1.0
    sum_sp += k_cp[j]
    k_cs = k_cs + _rbf(xc, xc[j : j + 1], gamma)[:, 0]
    sel = np.concatenate([sel, xc[j : j + 1]])
  return PrototypeResult(indices=np.asarray(chosen, np.int64), objective=np.asarray(objective))


def random_prototypes(rng: jax.Array, num_candidates: int, k: int) -> PrototypeResult:
  """A random size-``k`` subset (the order is a random permutation's prefix)."""
  if not 1 <= k <= num_candidates:
    raise ValueError(f"random_prototypes: k={k} must be between 1 and {num_candidates}")
  idx = np.asarray(jax.random.permutation(rng, num_candidates)[:k])
  return PrototypeResult(indices=idx.astype(np.int64), objective=np.full(k, np.nan))


def wasserstein_to_target(x: ArrayLike, x_target: ArrayLike, *, solver: Callable | None = None, p: int = 2) -> float:
  """``W_p(uniform on x, uniform on x_target)`` (exact OT by default: ``wassml.ot.emd``)."""
  if solver is None:
    from wassml import ot  # noqa: PLC0415

    solver = ot.emd
  x = np.asarray(x, np.float32)
  xt = np.asarray(x_target, np.float32)
  c = _cost(x, xt, p)
  scale = float(max(np.asarray(c).max(), 1e-12))
  res = solver(jnp.asarray(c) / scale, jnp.full((len(x),), 1.0 / len(x)), jnp.full((len(xt),), 1.0 / len(xt)))
  return float(max(float(res.transport_cost), 0.0) * scale) ** (1.0 / p)
