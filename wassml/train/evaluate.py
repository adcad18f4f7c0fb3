"""Evaluation loops and early stopping."""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from wassml.train.logs import progress


@functools.partial(jax.jit, static_argnames=("apply_fn", "kwargs_items"))
def _apply_eval(apply_fn, params, batch_stats, x, kwargs_items=()):
  variables = {"params": params}
  if batch_stats:
    variables["batch_stats"] = batch_stats
  return apply_fn(variables, x, train=False, **dict(kwargs_items))


def predict(state: Any, x: np.ndarray, *, batch_size: int = 1000, desc: str | None = None,
            **kwargs: Any) -> Any:
  """Applies the model (``train=False``) over ``x [N, ...]`` in batches.

  The last batch is padded to ``batch_size`` so there is a single compilation.

  Returns:
    The outputs concatenated over ``N`` (numpy; a tuple/pytree of them if the model returns one).
  """
  n = len(x)
  if n == 0:
    raise ValueError("predict: empty input.")
  bs = min(batch_size, n)
  kw = tuple(sorted(kwargs.items()))
  outs = []
  it = range(0, n, bs)
  for i in (progress(it, desc=desc, leave=False) if desc else it):
    xb = np.asarray(x[i:i + bs])
    m = len(xb)
    if m < bs:
      xb = np.concatenate([xb, np.repeat(xb[-1:], bs - m, axis=0)])
    out = _apply_eval(state.apply_fn, state.params, state.batch_stats, jnp.asarray(xb), kw)
    outs.append(jax.tree_util.tree_map(lambda o, m=m: np.asarray(o)[:m], out))
  return jax.tree_util.tree_map(lambda *o: np.concatenate(o), *outs)


def evaluate_classifier(state: Any, x: np.ndarray, y: np.ndarray, *,
                        batch_size: int = 1000) -> dict[str, float]:
  """Accuracy and mean cross-entropy of a classifier on ``(x [N, ...], y [N])``."""
  logits = predict(state, x, batch_size=batch_size)
  y = np.asarray(y)
  if logits.shape[0] != y.shape[0]:
    raise ValueError(f"x has {logits.shape[0]} rows but y has {y.shape[0]}.")
  ce = optax.softmax_cross_entropy_with_integer_labels(jnp.asarray(logits), jnp.asarray(y))
  return {"accuracy": float(np.mean(np.argmax(logits, -1) == y)), "loss": float(jnp.mean(ce))}


def evaluate(metric_fn: Callable[[Any, Any], dict], state: Any, data: dict[str, np.ndarray], *,
             batch_size: int = 1000) -> dict[str, float]:
  """Generic evaluation loop: example-weighted mean of ``metric_fn(state, batch)`` over batches.

  Args:
    metric_fn: ``(state, batch) -> dict of scalar means over the batch`` (jit it yourself).
    data: dict of arrays sharing the leading axis ``N``.
  """
  n = len(next(iter(data.values())))
  totals: dict[str, float] = {}
  for i in range(0, n, batch_size):
    batch = {k: v[i:i + batch_size] for k, v in data.items()}
    m = len(next(iter(batch.values())))
    for k, v in metric_fn(state, batch).items():
      totals[k] = totals.get(k, 0.0) + float(v) * m
  return {k: v / n for k, v in totals.items()}


@dataclasses.dataclass
class EarlyStopping:
  """Stops when a monitored metric has not improved by ``min_delta`` for ``patience`` checks.

  Usage: ``es = es.update(value)``; stop when ``es.should_stop``; ``es.best_step`` is the check
  (count of updates, from 0) of the best value.
  """

  patience: int = 5
  min_delta: float = 0.0
  mode: str = "min"
  best: float = math.nan
  best_step: int = -1
  num_updates: int = 0
  bad_checks: int = 0
  should_stop: bool = False

  def __post_init__(self):
    if self.mode not in ("min", "max"):
      raise ValueError(f"EarlyStopping mode must be 'min' or 'max', got {self.mode!r}.")
    if self.patience < 1:
      raise ValueError(f"patience must be >= 1, got {self.patience}.")

  def update(self, value: float) -> "EarlyStopping":
    """Returns the updated tracker (``improved`` is ``best_step == num_updates - 1``)."""
    value = float(value)
    if math.isnan(value):
      raise ValueError("EarlyStopping got a NaN metric.")
    sign = 1.0 if self.mode == "min" else -1.0
    improved = math.isnan(self.best) or sign * (self.best - value) > self.min_delta
    step = self.num_updates
    if improved:
      return dataclasses.replace(self, best=value, best_step=step, num_updates=step + 1,
                                 bad_checks=0, should_stop=False)
    bad = self.bad_checks + 1
    return dataclasses.replace(self, num_updates=step + 1, bad_checks=bad,
                               should_stop=bad >= self.patience)

  @property
  def improved(self) -> bool:
    return self.best_step == self.num_updates - 1
