"""Training from scratch on each seed's labelled set, every seed through one ``train_loop``.

Each seed of an active-learning run owns a different labelled set, so the sets are stacked and
padded: ``x: [S, N_max, ...]``, ``y: [S, N_max]`` with the first ``n_valid[s]`` rows of seed ``s``
valid. :func:`fit_seeds` initialises one model per seed (``wassml.train.create_train_state``)
and runs ``num_steps`` Adam steps of the harness's classifier step on each with
``wassml.train.train_loop(num_seeds=S)``, on minibatches drawn uniformly from the valid rows
(``wassml.train.RandomRows(num_rows=n_valid)``).

Keys: seed ``s``'s key splits into ``(init_key, loop_key)``; step ``i`` gets
``(k_rows, k_step) = split(fold_in(loop_key, i))``: ``k_rows`` draws the minibatch, ``k_step``
the dropout. How the steps run is ``train_loop``'s ``execution``: on XLA:CPU (``"auto"``
there) one compiled step called seed after seed and step after step from Python (``"host"``),
because XLA:CPU leaves the weight-gradient convolutions of a step inside a ``while`` loop in a
non-canonical layout that misses its fast convolution path (narrow VGG8, batch 32, on the
project's 2-core CPU: 1.01 s per Adam step inside a ``fori_loop`` vs 0.08 s as a jitted call;
``experiments/bench_train``, row ``executions``, measures the executions side by side);
elsewhere the seeds are vmapped and the steps scanned. Same keys and minibatches in every
execution, same models up to float rounding (tested).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from wassml.train import (RandomRows, classifier_loss, create_train_state, make_step,
                          stack_states, train_loop)

__all__ = ["fit_seeds", "fit_with_milestones", "accuracy_seeds", "num_train_steps", "unstack"]


def num_train_steps(n: int, *, epochs: int, batch_size: int, min_steps: int, max_steps: int) -> int:
  """Steps for ``epochs`` passes over ``n`` examples, clipped to ``[min_steps, max_steps]``."""
  return int(np.clip(epochs * int(np.ceil(n / batch_size)), min_steps, max_steps))


def _variables(state) -> Any:
  """The model variables of a train state (``params``, and ``batch_stats`` when present)."""
  out = {"params": state.params}
  if state.batch_stats:
    out["batch_stats"] = state.batch_stats
  return out


@functools.lru_cache(maxsize=16)
def _optimizer(learning_rate: float, weight_decay: float) -> optax.GradientTransformation:
  return optax.adamw(learning_rate, weight_decay=weight_decay) if weight_decay else optax.adam(learning_rate)


def _on_cpu() -> bool:
  return jax.default_backend() == "cpu"


# Built once per (module, optimiser): the same jitted step every round, so train_loop's compiled
# programs (and the persistent compilation cache) are reused. Bounded like every cache here.
@functools.lru_cache(maxsize=16)
def _programs(module: nn.Module, learning_rate: float, weight_decay: float):
  """Compiled ``init(key, x1) -> state`` and the loop's ``step(state, batch, rng)``."""
  tx = _optimizer(learning_rate, weight_decay)
  init = jax.jit(lambda key, x1: create_train_state(key, module, x1, tx))
  adam_step = make_step(classifier_loss(module.apply))

  def step(state, batch, rng):
    _, k_step = jax.random.split(rng)  # the first half drew the minibatch (RandomRows)
    return adam_step(state, batch, k_step)

  return init, jax.jit(step)


def _split_keys(keys: jax.Array) -> tuple[jax.Array, jax.Array]:
  """``[S]`` keys -> ``([S] init keys, [S] loop keys)``, ``split(keys[s])`` of each seed."""
  parts = jax.vmap(jax.random.split)(keys)
  return parts[:, 0], parts[:, 1]


def fit_seeds(
    keys: jax.Array,
    module: nn.Module,
    x: ArrayLike,
    y: ArrayLike,
    n_valid: ArrayLike,
    *,
    num_steps: int,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    weight_decay: float = 0.0,
    execution: str = "auto",
) -> Any:
  """Trains one fresh model per seed with ``wassml.train.train_loop``; returns stacked variables.

  Args:
    keys: ``[S]`` PRNG keys (init, minibatches and dropout of each seed).
    module: a linen classifier (``train=`` flag, dropout rng ``"dropout"``).
    x: ``[S, N_max, ...]`` padded inputs.
    y: ``[S, N_max]`` int labels.
    n_valid: ``[S]`` number of valid leading rows per seed (>= 1).
    num_steps: Adam steps (same for every seed).
    batch_size: minibatch size (drawn with replacement from the valid rows).
    learning_rate: Adam step size (1e-3 in the thesis).
    weight_decay: optional AdamW decay.
    execution: ``train_loop``'s execution: ``"host"``, ``"vmap"``, ``"scan"`` or ``"auto"``
      (host on CPU, scan elsewhere; see the module docstring). Every execution trains the same
      models up to float rounding.

  Returns:
    Variables ``{"params": ...}`` with a leading ``[S]`` axis on every leaf.

  Raises:
    ValueError: a seed without a labelled example, or an unknown execution.
  """
  n_valid = np.asarray(n_valid)
  if np.any(n_valid < 1):
    raise ValueError(f"fit_seeds: every seed needs at least one labelled example, got n_valid={n_valid.tolist()}")
  x = np.asarray(x, np.float32)
  y = np.asarray(y, np.int32)
  num_seeds = len(n_valid)
  init, step = _programs(module, float(learning_rate), float(weight_decay))
  init_keys, loop_keys = _split_keys(keys)
  state = stack_states([init(init_keys[s], jnp.asarray(x[s, :1])) for s in range(num_seeds)])
  batches = RandomRows({"x": x, "y": y}, int(batch_size), loop_keys, per_seed=("x", "y"),
                       num_rows=n_valid)
  state, _ = train_loop(state, step, batches, rng=loop_keys, num_steps=int(num_steps),
                        num_seeds=num_seeds, execution=execution, desc="fit_seeds",
                        show_progress=False)  # one fit per round: the round bar is enough
  return _variables(state)


def fit_with_milestones(
    key: jax.Array,
    module: nn.Module,
    x: ArrayLike,
    y: ArrayLike,
    *,
    milestones: Sequence[int],
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    on_milestone: Callable[[int, Any], None] | None = None,
    execution: str = "auto",
) -> Any:
  """One model trained on all of ``x``, handed to ``on_milestone(step, variables)`` at each milestone.

  The same run as :func:`fit_seeds` for one seed with ``n_valid = len(x)`` and
  ``num_steps = milestones[-1]`` (same initialisation, minibatches and dropout keys), one
  ``train_loop`` whose evaluation hook (every ``gcd(milestones)`` steps) reports the
  milestones, e.g. to follow a long full-data training epoch by epoch.

  Args:
    key: the seed's PRNG key.
    module: a linen classifier.
    x: ``[N, ...]`` inputs.
    y: ``[N]`` int labels.
    milestones: increasing step counts (> 0).
    batch_size: minibatch size.
    learning_rate: Adam step size.
    on_milestone: called after each milestone with the step count and the variables.
    execution: ``train_loop``'s execution (as in :func:`fit_seeds`).

  Returns:
    The variables after ``milestones[-1]`` steps.

  Raises:
    ValueError: milestones that are not increasing positive step counts.
  """
  ms = [int(m) for m in milestones]
  if not ms or ms[0] < 1 or any(b <= a for a, b in zip(ms, ms[1:])):
    raise ValueError(f"fit_with_milestones: milestones must be increasing positive step counts, got {ms}")
  x = np.asarray(x, np.float32)
  y = np.asarray(y, np.int32)
  init, step = _programs(module, float(learning_rate), 0.0)
  init_key, loop_key = jax.random.split(key)
  state = init(init_key, jnp.asarray(x[:1]))
  wanted = set(ms)

  def report_milestone(st) -> dict:
    done = int(st.step)
    if done in wanted and on_milestone is not None:
      on_milestone(done, _variables(st))
    return {}

  state, _ = train_loop(state, step, RandomRows({"x": x, "y": y}, int(batch_size), loop_key),
                        rng=loop_key, num_steps=ms[-1], execution=execution,
                        eval_fn=report_milestone, eval_every=math.gcd(*ms),
                        desc="fit_with_milestones")
  return _variables(state)


@functools.lru_cache(maxsize=16)
def _predict_fn(module: nn.Module, per_seed: bool):
  one = lambda v, x: jnp.argmax(module.apply(v, x, train=False), -1)  # noqa: E731
  return jax.jit(one) if per_seed else jax.jit(jax.vmap(one, in_axes=(0, None)))


def accuracy_seeds(module: nn.Module, variables: Any, x: ArrayLike, y: ArrayLike, *, batch_size: int = 2000,
                   per_seed: bool | None = None) -> np.ndarray:
  """Test accuracy of each stacked model: ``[S]``.

  ``per_seed`` (default: on CPU) evaluates the models one after another instead of vmapping
  over their weights: on XLA:CPU a convolution vmapped over weights is a grouped convolution,
  30x slower for the narrow VGG8 on 2000 images (28 s vs 0.9 s per seed on the 2-core CPU).
  """
  per_seed = _on_cpu() if per_seed is None else bool(per_seed)
  f = _predict_fn(module, per_seed)
  x = np.asarray(x, np.float32)
  chunks = [x[i : i + batch_size] for i in range(0, len(x), batch_size)]
  if per_seed:
    s = jax.tree.leaves(variables)[0].shape[0]
    preds = np.stack([np.concatenate([np.asarray(f(unstack(variables, k), c)) for c in chunks]) for k in range(s)])
  else:
    preds = np.concatenate([np.asarray(f(variables, c)) for c in chunks], axis=1)
  return (preds == np.asarray(y)[None]).mean(axis=1)


def unstack(variables: Any, s: int) -> Any:
  """The variables of seed ``s`` from a stacked pytree."""
  return jax.tree.map(lambda a: a[s], variables)
