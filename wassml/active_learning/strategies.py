"""Query strategies, selectable by name.

Each strategy is a function ``strategy(rng, ctx, k, **settings) -> Query`` of a trained model and
a candidate set (:class:`QueryContext`); it returns ``k`` distinct indices of unlabelled examples.

====================  =====================================================================
``random``            uniform over the candidates
``uncertainty``       highest predictive entropy
``bald``              highest BALD mutual information, ``T = 10`` MC-dropout passes
``ceal``              highest entropy, plus confident pseudo-labels (entropy < threshold) used
                      for the next training only (Wang et al. 2016)
``egl``               highest expected gradient length
``coreset``           greedy k-center on penultimate features (Sener & Savarese 2018)
``dqbc``              committee of ``K = 5`` partial networks (batchwise dropout, last layer
                      fine-tuned), highest ``rg(x)`` (Ducoffe thesis ch. 3)
``dfal``              smallest DeepFool perturbation on the logits (<= 10 iterations), optionally
                      adding the adversarial copies with the queried labels (ch. 4)
``balnet``            greedy maximisation of ``Tr(I_{A∪B} I_A^-1)`` with KFAC Fishers, optional
                      Wasserstein-prototype post-selection among ``k * M`` pre-selected (ch. 5, 9)
``wasserstein``       greedy Wasserstein prototypes of the pool (ch. 9), alone
====================  =====================================================================

The candidate set is built by the pool loop: the whole unlabelled pool, or a random subset of it
(``StrategySpec.default_candidates``, e.g. 300 for DFAL as in the thesis, ``30 k`` for DQBC).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from wassml.active_learning import coreset as coreset_lib
from wassml.active_learning import committee as committee_lib
from wassml.active_learning import deepfool as deepfool_lib
from wassml.active_learning import kfac
from wassml.active_learning import prototypes as proto_lib
from wassml.active_learning import scores
from wassml.active_learning.classifier import Classifier
from wassml.utils import linalg

__all__ = [
    "QueryContext",
    "Query",
    "StrategySpec",
    "STRATEGIES",
    "get_strategy",
    "list_strategies",
    "select",
    "make_solver",
]


@dataclasses.dataclass
class QueryContext:
  """What a strategy sees.

  Attributes:
    x: ``[N, ...]`` every pool input (labelled or not); indices refer to it.
    labelled: ``[n_l]`` indices whose labels are known.
    y_labelled: ``[n_l]`` their labels.
    candidates: ``[n_c]`` unlabelled indices to choose from.
    classifier: the model trained on the labelled set (None before any training).
    round: the active-learning round (0-based).
  """

  x: np.ndarray
  labelled: np.ndarray
  y_labelled: np.ndarray
  candidates: np.ndarray
  classifier: Classifier | None = None
  round: int = 0


@dataclasses.dataclass
class Query:
  """A strategy's answer.

  Attributes:
    indices: ``[k]`` distinct unlabelled indices into ``ctx.x`` to send to the oracle.
    scores: ``[k]`` the score that chose each (NaN where the strategy has none).
    adversarial_x: ``[k, ...]`` DFAL's adversarial copies ``x + r`` (they take the label the
      oracle gives to ``indices``), or None.
    pseudo_indices: ``[p]`` CEAL's confidently predicted unlabelled indices, or None.
    pseudo_labels: ``[p]`` their predicted labels.
  """

  indices: np.ndarray
  scores: np.ndarray
  adversarial_x: np.ndarray | None = None
  pseudo_indices: np.ndarray | None = None
  pseudo_labels: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class StrategySpec:
  """A registered strategy.

  Attributes:
    name: registry name.
    fn: ``fn(rng, ctx, k, **settings) -> Query``.
    needs_model: whether it scores with a trained model (an error before any labelled data).
    default_candidates: candidate-set size as a function of ``k`` (None: the whole pool).
  """

  name: str
  fn: Callable[..., Query]
  needs_model: bool
  default_candidates: Callable[[int], int] | None = None


def _top(scores_: np.ndarray, cand: np.ndarray, k: int, *, largest: bool = True) -> Query:
  s = np.asarray(scores_, np.float64)
  s = np.where(np.isfinite(s), s, -np.inf if largest else np.inf)
  order = np.argsort(-s if largest else s, kind="stable")[:k]
  return Query(indices=cand[order], scores=s[order])


def random_strategy(rng, ctx: QueryContext, k: int) -> Query:
  """``k`` candidates uniformly at random."""
  pick = np.asarray(jax.random.choice(rng, len(ctx.candidates), (k,), replace=False))
  return Query(indices=ctx.candidates[pick], scores=np.full(k, np.nan))


def uncertainty_strategy(rng, ctx: QueryContext, k: int) -> Query:
  """Highest predictive entropy."""
  del rng
  return _top(np.asarray(scores.entropy_scores(ctx.classifier.logits(ctx.x[ctx.candidates]))), ctx.candidates, k)


def bald_strategy(rng, ctx: QueryContext, k: int, *, num_samples: int = 10) -> Query:
  """Highest BALD mutual information over ``num_samples`` MC-dropout passes."""
  mc = ctx.classifier.mc_logits(rng, ctx.x[ctx.candidates], num_samples)
  return _top(np.asarray(scores.bald_scores(mc)), ctx.candidates, k)


def ceal_strategy(rng, ctx: QueryContext, k: int, *, threshold: float = 0.05, decay: float = 0.0033,
                  max_pseudo: int | None = None) -> Query:
  """CEAL: query the highest entropy; pseudo-label candidates with entropy < ``threshold - decay * round``."""
  del rng
  logits = ctx.classifier.logits(ctx.x[ctx.candidates])
  ent = np.asarray(scores.entropy_scores(logits))
  q = _top(ent, ctx.candidates, k)
  thr = max(threshold - decay * ctx.round, 0.0)
  confident = (ent < thr) & ~np.isin(ctx.candidates, q.indices)
  order = np.flatnonzero(confident)
  order = order[np.argsort(ent[order], kind="stable")]
  if max_pseudo is not None:
    order = order[:max_pseudo]
  q.pseudo_indices = ctx.candidates[order]
  q.pseudo_labels = np.asarray(jnp.argmax(logits, -1))[order].astype(np.int32)
  return q


def egl_strategy(rng, ctx: QueryContext, k: int) -> Query:
  """Highest expected gradient length."""
  del rng
  clf = ctx.classifier
  return _top(np.asarray(scores.egl_scores(clf.eval_apply, clf.variables, ctx.x[ctx.candidates])), ctx.candidates, k)


def coreset_strategy(rng, ctx: QueryContext, k: int) -> Query:
  """Greedy k-center on the penultimate features (labelled points are the initial centres)."""
  del rng
  clf = ctx.classifier
  f_c = clf.features(ctx.x[ctx.candidates])
  f_l = clf.features(ctx.x[ctx.labelled]) if len(ctx.labelled) else jnp.zeros((0, f_c.shape[1]))
  idx, radius = coreset_lib.k_center_greedy(f_l, f_c, k)
  return Query(indices=ctx.candidates[np.asarray(idx)], scores=np.asarray(radius))


def dqbc_strategy(rng, ctx: QueryContext, k: int, *, num_members: int = 5, rate: float = 0.5,
                  finetune_steps: int = 50, batch_size: int = 32, learning_rate: float = 1e-3) -> Query:
  """DQBC: highest committee soft disagreement ``rg(x)``."""
  clf = ctx.classifier
  probs = committee_lib.build_committee(
      rng, clf.module, clf.variables["params"], ctx.x[ctx.labelled], ctx.y_labelled, ctx.x[ctx.candidates],
      num_members=num_members, rate=rate, finetune_steps=finetune_steps, batch_size=batch_size,
      learning_rate=learning_rate)
  return _top(np.asarray(scores.committee_margin_scores(probs)), ctx.candidates, k)


def dfal_strategy(rng, ctx: QueryContext, k: int, *, max_iters: int = 10, overshoot: float = 0.0,
                  add_adversarial: bool = True, chunk_size: int = 64) -> Query:
  """DFAL: smallest DeepFool perturbation norm; the adversarial copies ride along if asked.

  The attack's compiled program is keyed by the module (:attr:`Classifier.example_logits`) with
  the weights as data, and the candidates go through it in padded chunks of ``chunk_size``: later
  rounds and calls (new weights, another number of candidates) do not recompile it.
  """
  del rng
  clf = ctx.classifier
  res = deepfool_lib.deepfool_batch(clf.example_logits, clf.variables, ctx.x[ctx.candidates],
                                    max_iters=max_iters, overshoot=overshoot, chunk_size=chunk_size)
  norms = np.where(np.asarray(res.flipped), np.asarray(res.norm), np.inf)
  order = np.argsort(norms, kind="stable")[:k]
  q = Query(indices=ctx.candidates[order], scores=np.asarray(res.norm)[order])
  if add_adversarial:
    q.adversarial_x = np.asarray(res.adversarial)[order]
  return q


@functools.lru_cache(maxsize=16)
def _kfac_sums_fn(apply_fn):
  def f(variables, x):
    stats = kfac.layer_stats(apply_fn, variables, x)
    n = x.shape[0]
    return [tuple(m * n for m in kfac.kfac_factors(s)) for s in stats]

  return jax.jit(f)


@functools.lru_cache(maxsize=16)
def _kfac_traces_fn(apply_fn):
  def f(variables, x, inverses):
    stats = kfac.layer_stats(apply_fn, variables, x)
    out = [kfac.per_example_traces(s, pi, ti) for s, (pi, ti) in zip(stats, inverses, strict=True)]
    return jnp.stack([o[0] for o in out], 1), jnp.stack([o[1] for o in out], 1)

  return jax.jit(f)


def _chunks(x, size):
  return [x[i : i + size] for i in range(0, len(x), size)]


def balnet_scores(clf: Classifier, x_labelled: np.ndarray, x_candidates: np.ndarray, *, damping: float = 1e-3,
                  chunk_size: int = 64) -> dict[str, np.ndarray]:
  """KFAC pieces of BalNet's criterion.

  Returns a dict with ``s_psi, s_tau: [n_c, L]`` (``Tr(psi_b psi_A^-1)``, ``Tr(tau_b tau_A^-1)``
  per candidate and layer) and ``c_psi, c_tau: [L]`` (``Tr(psi_A psi_A^-1)``,
  ``Tr(tau_A tau_A^-1)``).
  """
  sums_fn = _kfac_sums_fn(clf.eval_apply)
  sums = None
  for c in _chunks(x_labelled, chunk_size):
    part = sums_fn(clf.variables, jnp.asarray(c, jnp.float32))
    sums = part if sums is None else [(a + p, b + t) for (a, b), (p, t) in zip(sums, part)]
  n_a = len(x_labelled)
  factors_a = [(p / n_a, t / n_a) for p, t in sums]
  inverses = [(kfac.damped_inverse(p, damping), kfac.damped_inverse(t, damping)) for p, t in factors_a]
  c_psi = np.asarray([float(jnp.trace(linalg.matmul(p, pi))) for (p, _), (pi, _) in zip(factors_a, inverses)])
  c_tau = np.asarray([float(jnp.trace(linalg.matmul(t, ti))) for (_, t), (_, ti) in zip(factors_a, inverses)])
  tr_fn = _kfac_traces_fn(clf.eval_apply)
  parts = [tr_fn(clf.variables, jnp.asarray(c, jnp.float32), inverses) for c in _chunks(x_candidates, chunk_size)]
  return {
      "s_psi": np.concatenate([np.asarray(p[0]) for p in parts]),
      "s_tau": np.concatenate([np.asarray(p[1]) for p in parts]),
      "c_psi": c_psi,
      "c_tau": c_tau,
  }


def balnet_greedy(s_psi: np.ndarray, s_tau: np.ndarray, c_psi: np.ndarray, c_tau: np.ndarray, n_labelled: int,
                  k: int) -> tuple[np.ndarray, np.ndarray]:
  """Greedy ``max_B sum_l Tr(psi_{l,A∪B} psi_{l,A}^-1) Tr(tau_{l,A∪B} tau_{l,A}^-1)``, ``|B| = k``.

  With ``psi_{A∪B} = (|A| psi_A + sum_{b in B} psi_b) / (|A| + |B|)`` each trace is linear in the
  per-candidate traces, so the objective of ``B`` is
  ``sum_l (|A| c_psi_l + S_l(B)) (|A| c_tau_l + U_l(B)) / (|A| + |B|)^2``.

  Returns:
    ``(order [k] into the candidates, objective [k] after each addition)``.
  """
  n = s_psi.shape[0]
  if k > n:
    raise ValueError(f"balnet_greedy: k={k} exceeds the {n} candidates")
  sp = n_labelled * np.asarray(c_psi, np.float64)
  st = n_labelled * np.asarray(c_tau, np.float64)
  avail = np.ones(n, bool)
  order, obj = [], []
  for t in range(k):
    vals = ((sp[None] + s_psi) * (st[None] + s_tau)).sum(1) / (n_labelled + t + 1) ** 2
    vals = np.where(avail, vals, -np.inf)
    j = int(np.argmax(vals))
    order.append(j)
    obj.append(float(vals[j]))
    avail[j] = False
    sp = sp + s_psi[j]
    st = st + s_tau[j]
  return np.asarray(order), np.asarray(obj)


@functools.lru_cache(maxsize=16)
def make_solver(name: str, *, epsilon: float = 1e-3, num_iters: int = 10, ipot_beta: float = 1.0) -> Callable:
  """An OT solver by name: ``"emd"`` (exact), ``"sinkhorn"`` or ``"ipot"``.

  Sinkhorn runs ``num_iters`` log-domain iterations at ``epsilon`` (thesis ch. 9: 1e-3, 10
  iterations); IPOT runs ``num_iters`` proximal steps with one inner Sinkhorn update at proximal
  step ``ipot_beta`` (Xie et al.'s 1.0 on max-normalised costs: ``exp(-C / 1e-3)`` underflows in
  float32, so the thesis's ``1e-3`` is not usable as IPOT's ``beta`` here). Costs are normalised
  by :mod:`.prototypes` before they reach the solver. Cached: the same settings give the same
  solver object, so the prototypes' compiled solver is reused from one round to the next.
  """
  from wassml import ot  # noqa: PLC0415

  if name == "emd":
    return ot.emd
  if name == "sinkhorn":
    return functools.partial(ot.sinkhorn, epsilon=epsilon, num_iters=num_iters, tol=0.0, mode="log")
  if name == "ipot":
    return functools.partial(ot.ipot, beta=ipot_beta, num_iters=num_iters, inner_iters=1)
  raise ValueError(f"unknown OT solver {name!r}; valid: ['emd', 'ipot', 'sinkhorn']")


def _embed(ctx: QueryContext, idx: np.ndarray) -> np.ndarray:
  if ctx.classifier is not None:
    return np.asarray(ctx.classifier.features(ctx.x[idx]))
  return np.asarray(ctx.x[idx], np.float32).reshape(len(idx), -1)


def _prototype_select(ctx: QueryContext, pre: np.ndarray, k: int, solver_name: str, epsilon: float,
                      num_iters: int, max_target: int, rng, max_fixed: int = 200, chunk_size: int = 64,
                      row_bucket: int | None = 32) -> tuple[np.ndarray, np.ndarray]:
  """Among ``pre`` (candidate indices), ``k`` greedy prototypes of ``A ∪ candidates``, ``A`` fixed."""
  k_t, k_f = jax.random.split(rng)
  target_idx = np.concatenate([ctx.labelled, ctx.candidates])
  if len(target_idx) > max_target:
    target_idx = np.asarray(jax.random.choice(k_t, target_idx, (max_target,), replace=False))
  fixed = ctx.labelled
  if len(fixed) > max_fixed:
    fixed = np.asarray(jax.random.choice(k_f, fixed, (max_fixed,), replace=False))
  res = proto_lib.greedy_wasserstein_prototypes(
      _embed(ctx, pre), _embed(ctx, target_idx), k,
      solver=make_solver(solver_name, epsilon=epsilon, num_iters=num_iters),
      x_fixed=_embed(ctx, fixed) if len(fixed) else None, pad=solver_name != "sinkhorn", chunk_size=chunk_size,
      row_bucket=row_bucket)
  return pre[res.indices], res.objective


def balnet_strategy(rng, ctx: QueryContext, k: int, *, damping: float = 1e-3, preselect_factor: int = 1,
                    prototype_solver: str = "ipot", epsilon: float = 1e-3, num_iters: int = 10,
                    max_labelled: int = 1000, max_target: int = 300, max_fixed: int = 200) -> Query:
  """BalNet; with ``preselect_factor = M > 1`` it keeps ``k`` Wasserstein prototypes of ``k M`` pre-selected.

  The post-selection minimises ``W_2(A ∪ B~, P)`` (thesis eq. 5.15) in the model's feature space,
  with ``A`` and ``P`` subsampled to ``max_fixed`` / ``max_target`` points, by IPOT by default
  (exact OT, ``prototype_solver="emd"``, solves one LP per candidate and step on the host).
  """
  clf = ctx.classifier
  k_sub, k_proto = jax.random.split(rng)
  lab = ctx.labelled
  if len(lab) > max_labelled:
    lab = np.asarray(jax.random.choice(k_sub, lab, (max_labelled,), replace=False))
  parts = balnet_scores(clf, ctx.x[lab], ctx.x[ctx.candidates], damping=damping)
  m = min(k * max(int(preselect_factor), 1), len(ctx.candidates))
  order, obj = balnet_greedy(parts["s_psi"], parts["s_tau"], parts["c_psi"], parts["c_tau"], len(ctx.labelled), m)
  if m == k:
    return Query(indices=ctx.candidates[order], scores=obj)
  chosen, w = _prototype_select(ctx, ctx.candidates[order], k, prototype_solver, epsilon, num_iters, max_target,
                                k_proto, max_fixed=max_fixed)
  return Query(indices=chosen, scores=w)


def wasserstein_strategy(rng, ctx: QueryContext, k: int, *, solver: str = "ipot", epsilon: float = 1e-3,
                         num_iters: int = 10, max_target: int = 300, max_fixed: int = 200, chunk_size: int = 64,
                         row_bucket: int | None = 32) -> Query:
  """Greedy Wasserstein prototypes of ``A ∪ candidates`` (features if a model is there, else raw inputs).

  Cost: ``k`` greedy steps, each solving one OT problem of ``[<= max_fixed + k, max_target]`` per
  candidate; ``chunk_size`` candidates per compiled call, rows padded to multiples of ``row_bucket``.
  """
  chosen, w = _prototype_select(ctx, ctx.candidates, k, solver, epsilon, num_iters, max_target, rng, max_fixed,
                                chunk_size=chunk_size, row_bucket=row_bucket)
  return Query(indices=chosen, scores=w)


STRATEGIES: dict[str, StrategySpec] = {
    s.name: s
    for s in [
        StrategySpec("random", random_strategy, needs_model=False),
        StrategySpec("uncertainty", uncertainty_strategy, needs_model=True),
        StrategySpec("bald", bald_strategy, needs_model=True, default_candidates=lambda k: max(2000, 10 * k)),
        StrategySpec("ceal", ceal_strategy, needs_model=True),
        StrategySpec("egl", egl_strategy, needs_model=True, default_candidates=lambda k: max(1000, 10 * k)),
        StrategySpec("coreset", coreset_strategy, needs_model=True, default_candidates=lambda k: max(2000, 10 * k)),
        StrategySpec("dqbc", dqbc_strategy, needs_model=True, default_candidates=lambda k: 30 * k),
        StrategySpec("dfal", dfal_strategy, needs_model=True, default_candidates=lambda k: max(300, 2 * k)),
        StrategySpec("balnet", balnet_strategy, needs_model=True, default_candidates=lambda k: max(1000, 10 * k)),
        StrategySpec("wasserstein", wasserstein_strategy, needs_model=False, default_candidates=lambda k: max(300, 3 * k)),
    ]
}


def list_strategies() -> list[str]:
  """The registered strategy names."""
  return sorted(STRATEGIES)


def get_strategy(name: str) -> StrategySpec:
  """The strategy called ``name``; an unknown name raises ``ValueError`` listing the valid ones."""
  if name not in STRATEGIES:
    raise ValueError(f"unknown active-learning strategy {name!r}; valid strategies: {list_strategies()}")
  return STRATEGIES[name]


def select(rng: jax.Array, name: str, ctx: QueryContext, k: int, **settings: Any) -> Query:
  """Runs strategy ``name`` and checks its answer.

  Raises:
    ValueError: unknown name; ``k`` < 1 or larger than the candidate set; a strategy that needs a
      model called without one (e.g. an empty initial labelled set).
  """
  spec = get_strategy(name)
  cand = np.asarray(ctx.candidates)
  if k < 1:
    raise ValueError(f"query size must be >= 1, got {k}")
  if k > len(cand):
    raise ValueError(f"query size {k} is larger than the candidate pool ({len(cand)} unlabelled examples)")
  if spec.needs_model and ctx.classifier is None:
    raise ValueError(f"strategy {name!r} needs a model trained on labelled data, but there is none "
                     f"(the labelled set has {len(ctx.labelled)} examples); start from a non-empty labelled "
                     "set or use 'random'/'wasserstein' for the first round")
  q = spec.fn(rng, ctx, k, **settings)
  idx = np.asarray(q.indices)
  if len(idx) != k or len(np.unique(idx)) != k or not np.all(np.isin(idx, cand)):
    raise RuntimeError(f"strategy {name!r} returned invalid indices {idx.tolist()[:20]} (need {k} distinct candidates)")
  return q
