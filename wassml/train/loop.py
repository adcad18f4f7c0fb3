"""A resumable training loop: steps, periodic evaluation, checkpoints, JSONL metrics, tqdm."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import jax
import numpy as np

from wassml.train.checkpoint import Checkpointer
from wassml.train.evaluate import EarlyStopping
from wassml.train.logs import MetricsWriter, progress


def train_loop(state: Any, step_fn: Callable, batch_fn: Callable[[int], Any], *, rng: jax.Array,
               num_steps: int, checkpointer: Checkpointer | None = None,
               checkpoint_every: int = 0, writer: MetricsWriter | None = None,
               log_every: int = 50, eval_fn: Callable[[Any], dict] | None = None,
               eval_every: int = 0, early_stopping: EarlyStopping | None = None,
               monitor: str = "loss", desc: str = "train") -> tuple[Any, dict]:
  """Runs ``step_fn`` for steps ``[start, num_steps)``, resuming from the latest checkpoint.

  Everything a step sees is a function of its index ``i``: the batch ``batch_fn(i)`` and the key
  ``fold_in(rng, i)``. So a run killed after checkpoint ``c`` and resumed redoes exactly steps
  ``c, c+1, ...`` and ends in the same state as an uninterrupted run; metrics logged after ``c``
  by the killed run are dropped from the JSONL file before they are redone. The loop state
  (early-stopping counters, last metrics, whether the run stopped early) is saved with each
  checkpoint, so early stopping also resumes exactly and a run that stopped early stays stopped.

  Args:
    state: initial state (a pytree; restored from the latest checkpoint when there is one).
    step_fn: ``step_fn(state, batch, rng) -> (state, metrics)`` (jit it).
    batch_fn: ``batch_fn(i) -> batch`` for step ``i`` (deterministic in ``i``).
    rng: base key.
    num_steps: total number of steps of the run.
    checkpointer: where to save; None disables checkpoints and resuming.
    checkpoint_every: save every this many steps (and always at the end); 0: only at the end.
    writer: JSONL metrics writer (train metrics every ``log_every`` steps, eval metrics).
    log_every: logging period in steps.
    eval_fn: ``eval_fn(state) -> dict`` of scalars, run every ``eval_every`` steps and at the end.
    eval_every: evaluation period (0: only at the end).
    early_stopping: stop when ``eval_fn``'s ``monitor`` metric stops improving.
    monitor: the metric early stopping watches.
    desc: progress-bar label.

  Returns:
    ``(state, info)`` with ``info = {'start_step', 'last_step', 'stopped_early', 'last_eval',
    'last_train'}``.
  """
  start, meta = 0, {}
  if checkpointer is not None:
    state, start = checkpointer.restore_or_init(state)
    if start:
      meta = checkpointer.restore_metadata(start)
  if writer is not None:
    writer.truncate_after(start)
  info = {"start_step": start, "last_step": start,
          "stopped_early": bool(meta.get("stopped_early", False)),
          "last_eval": meta.get("last_eval", {}), "last_train": meta.get("last_train", {})}
  if early_stopping is not None and meta.get("early_stopping"):
    es = dict(meta["early_stopping"])
    es["best"] = math.nan if es.get("best") is None else es["best"]
    early_stopping = EarlyStopping(**es)
  if info["stopped_early"]:
    return state, info  # the run had already stopped early: nothing left to do

  def loop_state(stopped: bool) -> dict:
    es = None
    if early_stopping is not None:
      es = dataclasses.asdict(early_stopping)
      es["best"] = None if math.isnan(es["best"]) else es["best"]
    return {"stopped_early": stopped, "early_stopping": es, "last_eval": info["last_eval"],
            "last_train": info["last_train"]}

  pending: list[dict] = []
  bar = progress(range(start, num_steps), initial=start, total=num_steps, desc=desc)
  for i in bar:
    state, metrics = step_fn(state, batch_fn(i), jax.random.fold_in(rng, i))
    pending.append(metrics)
    done = i + 1
    info["last_step"] = done
    if done % max(log_every, 1) == 0 or done == num_steps:
      mean = {k: float(np.mean([float(m[k]) for m in pending])) for k in pending[0]}
      pending = []
      info["last_train"] = mean
      bar.set_postfix({k: f"{v:.4g}" for k, v in list(mean.items())[:3]})
      if writer is not None:
        writer.write(done, {f"train/{k}": v for k, v in mean.items()})
    stop = False
    if eval_fn is not None and ((eval_every and done % eval_every == 0) or done == num_steps):
      ev = eval_fn(state)
      info["last_eval"] = ev
      if writer is not None:
        writer.write(done, {f"eval/{k}": v for k, v in ev.items()})
      if early_stopping is not None:
        early_stopping = early_stopping.update(ev[monitor])
        stop = early_stopping.should_stop
    if checkpointer is not None and ((checkpoint_every and done % checkpoint_every == 0)
                                     or done == num_steps or stop):
      if checkpointer.latest_step() != done:
        checkpointer.save(done, state, metadata=loop_state(stop))
    if stop:
      info["stopped_early"] = True
      break
  bar.close()
  return state, info
