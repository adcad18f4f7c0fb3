"""The training loop every family uses: steps, seeds, execution, evaluation, checkpoints, resume.

One loop, :func:`train_loop`, runs a pure step ``step(state, batch, rng) -> (state, metrics)``
for ``num_steps`` steps, for one run or for ``num_seeds`` runs at once, and owns everything
around the step: the step keys, periodic evaluation with a history, JSONL metrics, Orbax
checkpoints with exact resume, early stopping, and a tqdm bar.

How the steps are executed is one switch, ``execution``, resolved before anything is traced:

===========  ==================================================================================
``"host"``   each step is one compiled call made from Python; seeds run one after another.
``"vmap"``   each step is one compiled call of the step vmapped over the seeds.
``"scan"``   each chunk of steps (up to the next evaluation / checkpoint) is one compiled call:
             ``jit(vmap(scan(step)))`` over the seeds.
``"auto"``   ``"host"`` on the CPU backend, ``"scan"`` on GPU/TPU (see ``docs/harness.md``).
===========  ==================================================================================

Why ``"auto"`` is ``"host"`` on XLA:CPU: a ``while`` loop around a convolutional step (``scan``,
``fori_loop``) leaves the weight-gradient convolutions off XLA:CPU's fast path, and a vmapped
convolution with per-seed weights becomes a grouped convolution; both are several times slower
than one compiled step called from Python (measured in ``experiments/bench_train``). On an
accelerator the per-call overhead dominates small steps and the seeds fill the device together.

All executions compute the same numbers: step ``i`` of seed ``s`` sees the batch
``batch_fn(i, s)`` and the key ``fold_in(rng[s], i)``, whatever the execution (up to float
summation order in the vmapped/scanned convolutions). A run killed after checkpoint ``c`` and
started again redoes exactly steps ``c, c+1, ...`` and ends in the state of an uninterrupted run.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import os
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from wassml.train.checkpoint import Checkpointer
from wassml.train.evaluate import EarlyStopping
from wassml.train.logs import MetricsWriter, progress

__all__ = ["EXECUTIONS", "resolve_execution", "run_phase", "stack_states", "train_loop",
           "unstack_states"]

EXECUTIONS = ("auto", "host", "vmap", "scan")
_DEFAULT_SCAN_STEPS = 500


def resolve_execution(execution: str = "auto", *, backend: str | None = None) -> str:
  """The execution ``"auto"`` stands for on ``backend`` (default: JAX's default backend).

  Raises:
    ValueError: ``execution`` is not one of :data:`EXECUTIONS`.
  """
  if execution not in EXECUTIONS:
    raise ValueError(f"train_loop: unknown execution={execution!r}; valid: {list(EXECUTIONS)}")
  if execution != "auto":
    return execution
  backend = jax.default_backend() if backend is None else backend
  return "host" if backend == "cpu" else "scan"


def stack_states(states: list[Any]) -> Any:
  """Stacks per-seed pytrees on a new leading axis (the inverse of :func:`unstack_states`)."""
  return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *states)


def unstack_states(stacked: Any, num: int) -> list[Any]:
  """Splits a pytree stacked over seeds into ``num`` per-seed pytrees."""
  return [jax.tree_util.tree_map(lambda x, s=s: x[s], stacked) for s in range(num)]


def _jitted(fn: Callable) -> Callable:
  return fn if hasattr(fn, "lower") else jax.jit(fn)


# Compiled programs of the vmapped / scanned step, reused across calls of train_loop with the
# same step function (an active-learning round, a tuning point). Bounded: at most 16 programs
# (and the step functions they hold) are kept alive.
@functools.lru_cache(maxsize=16)
def _program(step_fn: Callable, mode: str, seeds: bool) -> Callable:
  one = step_fn
  if mode == "scan":
    def one(state, batches, keys):  # pylint: disable=function-redefined
      return jax.lax.scan(lambda st, bk: step_fn(st, bk[0], bk[1]), state, (batches, keys))
  return jax.jit(jax.vmap(one) if seeds else one)


def _mean_metrics(metrics: list[dict]) -> dict:
  return {k: float(np.mean([float(m[k]) for m in metrics])) for k in metrics[0]}


def _es_to_json(es: EarlyStopping | None) -> dict | None:
  if es is None:
    return None
  d = dataclasses.asdict(es)
  d["best"] = None if math.isnan(d["best"]) else d["best"]
  return d


def _es_from_json(d: dict, like: EarlyStopping) -> EarlyStopping:
  """The saved fields ``d`` restored into a copy of ``like`` (its class and any attributes that
  are not fields, e.g. a subclass's wall-clock deadline, are this process's)."""
  es = copy.copy(like)
  for k, v in d.items():
    setattr(es, k, math.nan if k == "best" and v is None else v)
  return es


def train_loop(state: Any, step_fn: Callable, batch_fn: Callable, *, rng: jax.Array,
               num_steps: int, num_seeds: int | None = None, execution: str = "auto",
               scan_steps: int | None = None, checkpointer: Checkpointer | None = None,
               checkpoint_every: int = 0, writer: MetricsWriter | None = None,
               log_every: int = 50, eval_fn: Callable[[Any], dict] | None = None,
               eval_every: int = 0, early_stopping: EarlyStopping | None = None,
               monitor: str = "loss", desc: str = "train",
               show_progress: bool = True) -> tuple[Any, dict]:
  """Runs ``step_fn`` for steps ``[start, num_steps)``, resuming from the latest checkpoint.

  Args:
    state: the initial state (restored from the latest checkpoint when there is one). With
      ``num_seeds``, a pytree stacked over seeds on its leading axis (:func:`stack_states`).
    step_fn: ``step_fn(state, batch, rng) -> (state, metrics)``, pure (jitted or not);
      ``metrics`` is a dict of scalars.
    batch_fn: ``batch_fn(i) -> batch`` for step ``i``; with ``num_seeds``,
      ``batch_fn(i, s) -> batch`` of seed ``s``. Deterministic in its arguments, evaluated on the
      host (e.g. :class:`wassml.train.EpochBatches`).
    rng: base key; with ``num_seeds``, ``[num_seeds]`` keys (one per seed).
    num_steps: total number of steps of the run.
    num_seeds: None for one run; otherwise the number of runs trained together.
    execution: ``"auto"``, ``"host"``, ``"vmap"`` or ``"scan"`` (module docstring).
    scan_steps: with ``"scan"``, at most this many steps per compiled call (default: up to
      the next evaluation or checkpoint, at most 500).
    checkpointer: where to save; None disables checkpoints and resuming.
    checkpoint_every: save every this many steps (and always at the end); 0: only at the end.
    writer: JSONL metrics writer: train means every ``log_every`` steps and the evaluations
      (each record has ``seed`` when ``num_seeds`` is set).
    log_every: logging period in steps.
    eval_fn: ``eval_fn(state) -> dict`` of scalars (with ``num_seeds``: ``eval_fn(state, s)``
      for seed ``s``'s own state), called every ``eval_every`` steps and at the end.
    eval_every: evaluation period (0: only at the end).
    early_stopping: stop a run when ``eval_fn``'s ``monitor`` stops improving; with seeds,
      each seed stops on its own (its state is frozen) and the loop ends when all have.
    monitor: the metric early stopping watches.
    desc: progress-bar label.
    show_progress: False hides the bar (``WASSML_PROGRESS=0`` hides every bar).

  Returns:
    ``(state, info)``. ``info`` has ``start_step``, ``last_step``, ``execution`` (resolved),
    ``stopped_early``, ``last_eval``, ``last_train`` and ``history`` (every evaluation, as
    ``{'step': s, **metrics}``); with ``num_seeds`` the last four are lists over seeds.

  Raises:
    ValueError: an unknown execution, a non-positive step count, or ``rng`` of the wrong shape.
  """
  mode = resolve_execution(execution)
  if num_steps < 0:
    raise ValueError(f"train_loop: num_steps must be >= 0, got {num_steps}.")
  seeds = num_seeds is not None
  n_seeds = int(num_seeds) if seeds else 1
  if seeds:
    if n_seeds < 1:
      raise ValueError(f"train_loop: num_seeds must be >= 1, got {num_seeds}.")
    if jnp.shape(rng) != (n_seeds,):
      raise ValueError(f"train_loop: with num_seeds={n_seeds}, rng must hold one key per seed "
                       f"(shape ({n_seeds},)), got shape {jnp.shape(rng)}.")
  seed_keys = list(rng) if seeds else [rng]

  start, meta = 0, {}
  if checkpointer is not None:
    state, start = checkpointer.restore_or_init(state)
    if start:
      meta = checkpointer.restore_metadata(start)
  if writer is not None:
    writer.truncate_after(start)

  def per_seed(key, default):
    value = meta.get(key)
    if value is None:
      return [default() for _ in range(n_seeds)]
    return list(value) if seeds else [value]

  stopped = per_seed("stopped_early", lambda: False)
  last_eval = per_seed("last_eval", dict)
  last_train = per_seed("last_train", dict)
  history = per_seed("history", list)
  stoppers: list[EarlyStopping | None] = [early_stopping] * n_seeds
  saved_es = meta.get("early_stopping")
  if early_stopping is not None and saved_es:
    stoppers = [_es_from_json(d, early_stopping) for d in (saved_es if seeds else [saved_es])]

  def unwrap(values):
    return values if seeds else values[0]

  def info(last_step):
    return {"start_step": start, "last_step": last_step, "execution": mode,
            "stopped_early": unwrap(stopped), "last_eval": unwrap(last_eval),
            "last_train": unwrap(last_train), "history": unwrap(history)}

  def loop_state():
    return {"stopped_early": unwrap(stopped), "last_eval": unwrap(last_eval),
            "last_train": unwrap(last_train), "history": unwrap(history),
            "early_stopping": unwrap([_es_to_json(es) for es in stoppers])}

  if all(stopped) or start >= num_steps:
    return state, info(start)  # nothing left to do (a stopped run stays stopped)

  # Per-seed states for host stepping; the stacked state for vmap / scan.
  host = mode == "host"
  if host:
    states = unstack_states(state, n_seeds) if seeds else [state]
    jstep = _jitted(step_fn)
  else:
    stacked = state
    program = _program(step_fn, mode, seeds)

  def batch(i, s):
    return batch_fn(i, s) if seeds else batch_fn(i)

  def boundaries_after(done):
    cands = [num_steps]
    for every in (eval_every, checkpoint_every) + ((scan_steps or 0,) if mode == "scan" else ()):
      if every:
        cands.append((done // every + 1) * every)
    nxt = min(cands)
    if mode == "scan" and not (eval_every or checkpoint_every or scan_steps):
      nxt = min(nxt, done + _DEFAULT_SCAN_STEPS)
    return nxt

  pending: list[list[dict]] = [[] for _ in range(n_seeds)]
  log_period = max(log_every, 1)

  def record(s, i, metrics):
    """Step ``i`` of seed ``s`` is done: log the mean of its period when the period ends."""
    pending[s].append(metrics)
    step_done = i + 1
    if step_done % log_period == 0 or step_done == num_steps:
      mean = _mean_metrics(pending[s])
      pending[s] = []
      last_train[s] = mean
      if writer is not None:
        extra = {"seed": s} if seeds else {}
        writer.write(step_done, {f"train/{k}": v for k, v in mean.items()}, **extra)
      if s == active[0]:
        bar.set_postfix({k: f"{v:.4g}" for k, v in list(mean.items())[:3]})

  bar = progress(total=num_steps, initial=start, desc=desc, leave=False,  # phases nest
                 **({} if show_progress else {"disable": True}))
  done = start
  while done < num_steps and not all(stopped):
    end = boundaries_after(done)
    steps = range(done, end)
    active = [s for s in range(n_seeds) if not stopped[s]]
    if host:
      for s in active:
        for i in steps:
          states[s], m = jstep(states[s], batch(i, s), jax.random.fold_in(seed_keys[s], i))
          record(s, i, m)
          if len(active) == 1:
            bar.update(1)
      if len(active) > 1:
        bar.update(len(steps))
    elif mode == "vmap":
      before = stacked
      for i in steps:
        bs = [batch(i, s) for s in range(n_seeds)]
        b = jax.tree_util.tree_map(lambda *xs: np.stack(xs), *bs) if seeds else bs[0]
        keys = (jnp.stack([jax.random.fold_in(k, i) for k in seed_keys]) if seeds
                else jax.random.fold_in(seed_keys[0], i))
        stacked, m = program(stacked, b, keys)
        for s in active:
          record(s, i, jax.tree_util.tree_map(lambda x, s=s: x[s], m) if seeds else m)
        bar.update(1)
    else:  # scan: the chunk's batches and keys stacked, one compiled call
      before = stacked
      idx = jnp.arange(done, end)
      per = [jax.tree_util.tree_map(lambda *xs: np.stack(xs), *[batch(i, s) for i in steps])
             for s in range(n_seeds)]
      keyz = [jax.vmap(lambda i, k=k: jax.random.fold_in(k, i))(idx) for k in seed_keys]
      if seeds:
        b = jax.tree_util.tree_map(lambda *xs: np.stack(xs), *per)
        stacked, m = program(stacked, b, jnp.stack(keyz))
      else:
        stacked, m = program(stacked, per[0], keyz[0])
      m = jax.device_get(m)
      for s in active:
        ms = jax.tree_util.tree_map(lambda x, s=s: x[s], m) if seeds else m
        for t, i in enumerate(steps):
          record(s, i, {k: v[t] for k, v in ms.items()})
      bar.update(len(steps))
    if not host and seeds and len(active) < n_seeds:  # frozen seeds keep their state
      mask = np.zeros(n_seeds, bool)
      mask[active] = True
      stacked = jax.tree_util.tree_map(
          lambda new, old: jnp.where(mask.reshape((-1,) + (1,) * (new.ndim - 1)), new, old),
          stacked, before)
    done = end

    if eval_fn is not None and ((eval_every and done % eval_every == 0) or done == num_steps):
      run_states = states if host else (unstack_states(stacked, n_seeds) if seeds else [stacked])
      for s in active:
        out = eval_fn(run_states[s], s) if seeds else eval_fn(run_states[s])
        ev = {k: float(v) for k, v in out.items()}
        last_eval[s] = ev
        history[s].append({"step": done, **ev})
        if writer is not None:
          extra = {"seed": s} if seeds else {}
          writer.write(done, {f"eval/{k}": v for k, v in ev.items()}, **extra)
        if stoppers[s] is not None:
          if monitor not in ev:
            raise ValueError(f"train_loop: early stopping monitors {monitor!r}, but eval_fn "
                             f"returned only {sorted(ev)}.")
          stoppers[s] = stoppers[s].update(ev[monitor])
          stopped[s] = stoppers[s].should_stop
    if checkpointer is not None and ((checkpoint_every and done % checkpoint_every == 0)
                                     or done == num_steps or all(stopped)):
      if checkpointer.latest_step() != done:
        current = (stack_states(states) if seeds else states[0]) if host else stacked
        checkpointer.save(done, current, metadata=loop_state())
  bar.close()
  final = (stack_states(states) if seeds else states[0]) if host else stacked
  return final, info(done)


def run_phase(state: Any, step_fn: Callable, batch_fn: Callable, *,
              workdir: str | os.PathLike | None, name: str, max_to_keep: int = 2,
              **loop_kwargs: Any) -> tuple[Any, dict]:
  """:func:`train_loop` as one named phase of a run kept in ``workdir``.

  The phase checkpoints under ``<workdir>/checkpoints/<name>`` (and resumes from there) and
  logs its training means and evaluations to ``<workdir>/metrics/<name>.jsonl``. Without a
  workdir nothing is written: no checkpoints, and the records are kept in memory.

  Args:
    state, step_fn, batch_fn: as for :func:`train_loop`.
    workdir: the run's folder, or None.
    name: the phase's name (a relative path: ``"selection/critic"`` nests).
    max_to_keep: checkpoints kept.
    **loop_kwargs: the other arguments of :func:`train_loop` (``rng``, ``num_steps``,
      ``num_seeds``, ``execution``, ``checkpoint_every``, ``eval_fn``, ...; ``desc`` defaults
      to ``name``).

  Returns:
    ``(state, info)`` as :func:`train_loop`, with ``info["records"]``: every record logged
    (``{'step', 'train/<metric>' or 'eval/<metric>', 'seed'}``), in step order.
  """
  for taken in ("checkpointer", "writer"):
    if taken in loop_kwargs:
      raise TypeError(f"run_phase makes its own {taken} from workdir; use train_loop to pass one.")
  loop_kwargs.setdefault("desc", name)
  writer = MetricsWriter(None if workdir is None
                         else os.path.join(workdir, "metrics", f"{name}.jsonl"))
  ckpt = (Checkpointer(workdir, subdir=f"checkpoints/{name}", max_to_keep=max_to_keep)
          if workdir is not None else None)
  try:
    state, info = train_loop(state, step_fn, batch_fn, checkpointer=ckpt, writer=writer,
                             **loop_kwargs)
  finally:
    if ckpt is not None:
      ckpt.close()
  info["records"] = sorted(writer.read(), key=lambda r: r["step"])
  return state, info
