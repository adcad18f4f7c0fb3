"""The pool-based active-learning loop, several seeds at once, checkpointed every round.

Each round, for every seed: (1) train a fresh model on the labelled set (plus DFAL's adversarial
copies and CEAL's pseudo-labels of the last query), all seeds in one vmapped call; (2) record the
test accuracy; (3) if labels remain in the budget, draw a candidate set from the unlabelled pool,
run the strategy, reveal the queried labels (the oracle reads them from the dataset) and add
them. The loop state (which index was labelled in which round and in which order, the queried
scores, adversarial copies, pseudo-labels, accuracies) is saved after every round with
``wassml.train.Checkpointer``; every key derives from ``(seed, round)``, so a killed run resumes
from its last checkpoint and ends exactly as an uninterrupted one, never losing or duplicating a
label.
"""

from __future__ import annotations

import dataclasses
import pathlib
import time
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from wassml.active_learning import strategies as strat
from wassml.active_learning import training
from wassml.active_learning.classifier import Classifier
from wassml.train import Checkpointer

__all__ = ["LoopConfig", "LoopResult", "label_schedule", "run_pool_loop", "load_finished_loop", "initial_state",
           "training_sets"]


@dataclasses.dataclass
class LoopConfig:
  """Settings of a pool-based run.

  Attributes:
    strategy: a name of :func:`wassml.active_learning.list_strategies`.
    schedule: the labelled-set sizes after each round, e.g. ``(10, 20, 40, ..., 1000)``; the
      first entry is the random initial set, the last the budget.
    num_seeds: seeds run together (vmapped training).
    seed: base seed; seed ``s`` uses ``fold_in(key(seed), s)``.
    strategy_settings: keyword settings of the strategy (e.g. ``{"add_adversarial": True}``).
    candidates: candidate-set size (None: the strategy's default, capped by the pool).
    epochs, batch_size, learning_rate, min_steps, max_steps: training of each round.
  """

  strategy: str = "random"
  schedule: Sequence[int] = (10, 20, 40)
  num_seeds: int = 1
  seed: int = 0
  strategy_settings: dict = dataclasses.field(default_factory=dict)
  candidates: int | None = None
  epochs: int = 30
  batch_size: int = 32
  learning_rate: float = 1e-3
  min_steps: int = 100
  max_steps: int = 2000


@dataclasses.dataclass
class LoopResult:
  """A finished (or stopped) run.

  Attributes:
    num_labels: ``[R]`` labelled-set size (oracle labels) at each evaluated round.
    accuracy: ``[S, R]`` test accuracy of each seed.
    label_order: ``[S, budget]`` indices in the order they were labelled (-1 where not yet).
    label_round: ``[S, N]`` round in which each index was labelled (-1: never).
    num_train: ``[S, R]`` training-set size used (labels + adversarial copies + pseudo-labels).
    query_seconds: ``[R]`` wall time of the query step of each round (all seeds).
    rounds_done: number of completed rounds.
    state: the raw checkpointed state.
  """

  num_labels: np.ndarray
  accuracy: np.ndarray
  label_order: np.ndarray
  label_round: np.ndarray
  num_train: np.ndarray
  query_seconds: np.ndarray
  rounds_done: int
  state: dict


def label_schedule(start: int, budget: int, *, growth: float = 2.0) -> tuple[int, ...]:
  """Geometric labelled-set sizes ``start, start*growth, ...`` ending exactly at ``budget``."""
  if start < 0 or budget < max(start, 1) or growth <= 1.0:
    raise ValueError(f"label_schedule: need 0 <= start <= budget, budget >= 1, growth > 1; got {start}, {budget}, {growth}")
  out = [start]
  while out[-1] < budget:
    out.append(min(budget, max(out[-1] + 1, int(round(max(out[-1], 1) * growth)))))
  return tuple(out)


def _validate(config: LoopConfig, n_pool: int):
  spec = strat.get_strategy(config.strategy)
  sched = list(config.schedule)
  if len(sched) < 1 or any(b <= a for a, b in zip(sched, sched[1:])):
    raise ValueError(f"schedule must be strictly increasing label counts, got {sched}")
  if sched[0] < 0:
    raise ValueError(f"the initial labelled-set size must be >= 0, got {sched[0]}")
  if sched[-1] > n_pool:
    raise ValueError(f"budget {sched[-1]} exceeds the pool size {n_pool}")
  if sched[0] == 0 and spec.needs_model:
    raise ValueError(f"strategy {config.strategy!r} needs a model, but the initial labelled set is empty "
                     f"(schedule starts at 0); start with a few random labels, e.g. schedule=(10, ...)")
  if config.num_seeds < 1:
    raise ValueError(f"num_seeds must be >= 1, got {config.num_seeds}")
  return spec


def initial_state(config: LoopConfig, x_shape: tuple[int, ...], n_pool: int) -> dict:
  """The (empty) checkpointed state: a pytree of fixed-shape arrays."""
  s, budget, r = config.num_seeds, int(config.schedule[-1]), len(config.schedule)
  return {
      "rounds_done": np.zeros((), np.int32),
      "label_round": np.full((s, n_pool), -1, np.int32),
      "label_order": np.full((s, budget), -1, np.int32),
      "label_scores": np.full((s, budget), np.nan, np.float32),
      "adv_x": np.zeros((s, budget) + tuple(x_shape), np.float32),
      "adv_from": np.full((s, budget), -1, np.int32),
      "n_adv": np.zeros((s,), np.int32),
      "pseudo_y": np.full((s, n_pool), -1, np.int32),
      "accuracy": np.full((s, r), np.nan, np.float32),
      "num_train": np.zeros((s, r), np.int32),
      "query_seconds": np.zeros((r,), np.float32),
  }


def training_sets(state: dict, y_pool: np.ndarray, x_pool: np.ndarray, n_max: int, *, extras: bool = True):
  """Stacked, padded training sets ``(x [S, n_max, ...], y [S, n_max], n [S])``.

  With ``extras=False`` only the annotated pool examples, without DFAL's adversarial copies and
  CEAL's pseudo-labelled examples.
  """
  s = state["label_round"].shape[0]
  xs = np.zeros((s, n_max) + x_pool.shape[1:], np.float32)
  ys = np.zeros((s, n_max), np.int32)
  ns = np.zeros((s,), np.int32)
  for i in range(s):
    lab = state["label_order"][i]
    lab = lab[lab >= 0]
    parts_x = [x_pool[lab]]
    parts_y = [y_pool[lab]]
    na = int(state["n_adv"][i]) if extras else 0
    if na:
      parts_x.append(state["adv_x"][i, :na])
      parts_y.append(y_pool[state["adv_from"][i, :na]])  # the oracle's label of the source
    pseudo = np.flatnonzero(state["pseudo_y"][i] >= 0) if extras else []
    if len(pseudo):
      parts_x.append(x_pool[pseudo])
      parts_y.append(state["pseudo_y"][i, pseudo])
    xi = np.concatenate(parts_x)[:n_max]
    yi = np.concatenate(parts_y)[:n_max]
    xs[i, : len(xi)] = xi
    ys[i, : len(yi)] = yi
    ns[i] = len(xi)
  return xs, ys, ns


def _result(state: dict, sched: Sequence[int]) -> LoopResult:
  return LoopResult(
      num_labels=np.asarray(sched),
      accuracy=state["accuracy"],
      label_order=state["label_order"],
      label_round=state["label_round"],
      num_train=state["num_train"],
      query_seconds=state["query_seconds"],
      rounds_done=int(state["rounds_done"]),
      state=state,
  )


def load_finished_loop(config: LoopConfig, x_shape: tuple[int, ...], n_pool: int,
                       workdir: str | pathlib.Path) -> LoopResult | None:
  """The :class:`LoopResult` of a run in ``workdir`` that finished all its rounds, else None.

  Lets a driver that was stopped after its loops (e.g. during a later part of an experiment)
  pick the finished loops up instead of refusing them as a spent budget.

  Args:
    config: the run's :class:`LoopConfig` (its schedule and seeds give the checkpoint's shapes).
    x_shape: the shape of one pool input.
    n_pool: the pool size.
    workdir: the loop's folder (``<workdir>/checkpoints``).
  """
  if not (pathlib.Path(workdir) / "checkpoints").exists():
    return None
  ckpt = Checkpointer(workdir, max_to_keep=2)
  if ckpt.latest_step() is None:
    return None
  state = jax.tree.map(lambda a: np.array(a, copy=True), ckpt.restore(initial_state(config, x_shape, n_pool)))
  if int(state["rounds_done"]) < len(config.schedule):
    return None
  return _result(state, [int(v) for v in config.schedule])


def run_pool_loop(
    module: nn.Module,
    x_pool: np.ndarray,
    y_pool: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    config: LoopConfig,
    *,
    workdir: str | pathlib.Path | None = None,
    progress: bool = True,
    stop_after_rounds: int | None = None,
    on_round: Callable[[int, dict], None] | None = None,
) -> LoopResult:
  """Runs (or resumes) a pool-based active-learning run.

  Args:
    module: a linen classifier (``wassml.nn`` convention), retrained from scratch each round.
    x_pool: ``[N, ...]`` pool inputs (float32).
    y_pool: ``[N]`` pool labels: the oracle; a label is read only once its index is queried.
    x_test: ``[n_t, ...]`` evaluation inputs.
    y_test: ``[n_t]`` evaluation labels.
    config: the run's :class:`LoopConfig`.
    workdir: where the loop state is checkpointed each round (``<workdir>/checkpoints``); a
      run with a checkpoint there resumes from it. None: no checkpoints.
    progress: tqdm bar over rounds.
    stop_after_rounds: stop (as if killed) once this many rounds are completed in total.
    on_round: called as ``on_round(round, state)`` after each round is checkpointed.

  Returns:
    The :class:`LoopResult` (complete unless ``stop_after_rounds`` stopped it).

  Raises:
    ValueError: unknown strategy; a budget larger than the pool; a budget already spent (a
      finished run in ``workdir``, or an initial set at the budget); an empty initial set for a
      strategy that needs a model.
  """
  x_pool = np.asarray(x_pool, np.float32)
  y_pool = np.asarray(y_pool, np.int32)
  n_pool = len(x_pool)
  if len(y_pool) != n_pool:
    raise ValueError(f"x_pool and y_pool differ in length: {n_pool} vs {len(y_pool)}")
  spec = _validate(config, n_pool)
  sched = [int(v) for v in config.schedule]
  num_rounds = len(sched)
  state = initial_state(config, x_pool.shape[1:], n_pool)
  ckpt = Checkpointer(workdir, max_to_keep=2) if workdir is not None else None
  if ckpt is not None and ckpt.latest_step() is not None:
    state = jax.tree.map(lambda a: np.array(a, copy=True), ckpt.restore(state))
    if int(state["rounds_done"]) >= num_rounds:
      raise ValueError(f"the label budget ({sched[-1]}) is already spent: the run in {workdir} finished all "
                       f"{num_rounds} rounds; use a new workdir or a larger budget")
  base = jax.random.key(config.seed)
  seed_keys = [jax.random.fold_in(base, s) for s in range(config.num_seeds)]
  start = int(state["rounds_done"])
  if start == 0:
    for s in range(config.num_seeds):  # the random initial labelled set
      if sched[0]:
        idx = np.asarray(jax.random.choice(jax.random.fold_in(seed_keys[s], 10**6), n_pool, (sched[0],), replace=False))
        state["label_order"][s, : sched[0]] = idx
        state["label_round"][s, idx] = 0
  n_max = 2 * sched[-1] + n_pool if spec.name == "ceal" else 2 * sched[-1]
  n_max = min(n_max, 2 * sched[-1] + n_pool)
  bar = tqdm(range(start, num_rounds), desc=f"AL {config.strategy}", disable=not progress, leave=False)
  for r in bar:
    n_lab = sched[r]
    # (1) train every seed from scratch on its current training set
    variables = None
    if n_lab > 0:
      xs, ys, ns = training_sets(state, y_pool, x_pool, n_max)
      steps = training.num_train_steps(int(ns.max()), epochs=config.epochs, batch_size=config.batch_size,
                                       min_steps=config.min_steps, max_steps=config.max_steps)
      keys = jnp.stack([jax.random.fold_in(k, 2 * r) for k in seed_keys])
      variables = training.fit_seeds(keys, module, xs, ys, ns, num_steps=steps, batch_size=config.batch_size,
                                     learning_rate=config.learning_rate)
      state["accuracy"][:, r] = training.accuracy_seeds(module, variables, x_test, y_test)
      state["num_train"][:, r] = ns
    # (2) query the next labels
    if r + 1 < num_rounds:
      k = sched[r + 1] - n_lab
      t0 = time.perf_counter()
      state["pseudo_y"][:] = -1
      for s in range(config.num_seeds):
        labelled = state["label_order"][s, :n_lab]
        unlabelled = np.flatnonzero(state["label_round"][s] < 0)
        if k > len(unlabelled):
          raise ValueError(f"query size {k} is larger than the pool of {len(unlabelled)} unlabelled examples")
        k_round = jax.random.fold_in(seed_keys[s], 2 * r + 1)
        k_cand, k_query = jax.random.split(k_round)
        size = config.candidates if config.candidates is not None else (
            spec.default_candidates(k) if spec.default_candidates is not None else len(unlabelled))
        size = int(min(max(size, k), len(unlabelled)))
        cand = unlabelled if size == len(unlabelled) else np.sort(
            np.asarray(jax.random.choice(k_cand, unlabelled, (size,), replace=False)))
        clf = Classifier(module, training.unstack(variables, s)) if variables is not None else None
        ctx = strat.QueryContext(x=x_pool, labelled=labelled, y_labelled=y_pool[labelled], candidates=cand,
                                 classifier=clf, round=r)
        q = strat.select(k_query, config.strategy, ctx, k, **config.strategy_settings)
        # the oracle: reveal and record
        state["label_order"][s, n_lab : n_lab + k] = q.indices
        state["label_scores"][s, n_lab : n_lab + k] = np.asarray(q.scores, np.float32)
        state["label_round"][s, q.indices] = r + 1
        if q.adversarial_x is not None:
          na = int(state["n_adv"][s])
          state["adv_x"][s, na : na + k] = q.adversarial_x
          state["adv_from"][s, na : na + k] = q.indices
          state["n_adv"][s] = na + k
        if q.pseudo_indices is not None and len(q.pseudo_indices):
          state["pseudo_y"][s, q.pseudo_indices] = q.pseudo_labels
      state["query_seconds"][r] = time.perf_counter() - t0
    state["rounds_done"] = np.asarray(r + 1, np.int32)
    if ckpt is not None:
      ckpt.save(r + 1, state)
    if on_round is not None:
      on_round(r, state)
    bar.set_postfix(labels=n_lab, acc=float(np.nanmean(state["accuracy"][:, r])) if n_lab else float("nan"))
    if stop_after_rounds is not None and r + 1 >= stop_after_rounds:
      break
  return _result(state, sched)
