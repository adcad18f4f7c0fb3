"""Training from scratch on each seed's labelled set, all seeds in ONE compiled call.

Each seed of an active-learning run owns a different labelled set, so the sets are stacked and
padded: ``x: [S, N_max, ...]``, ``y: [S, N_max]`` with the first ``n_valid[s]`` rows of seed ``s``
valid. One run (``wassml.train.create_train_state`` + ``num_steps`` steps of the harness's
classifier step on minibatches drawn uniformly from the valid rows) is vmapped over the seeds
by ``wassml.train.sweep`` on accelerators; ``num_steps`` is a traced scalar (same HLO every round,
so the persistent compilation cache serves later rounds).

On XLA:CPU (``vectorize='auto'`` there) the steps are driven from Python instead: one compiled
step, called seed after seed and step after step (``vectorize='host'``). XLA:CPU leaves the
weight-gradient convolutions of a step inside a ``while`` loop (``fori_loop``, ``scan``,
``lax.map``) in a non-canonical layout that misses its fast convolution path: measured on the
project's 2-core CPU, one Adam step of the narrow VGG8 (batch 32) took 1.01 s inside a
``fori_loop`` and 0.08 s as a jitted call, LeNet5's 0.040 s vs 0.017 s (no XLA flag changed it;
``experiments/supervised/bench_sweep.py`` measures it side by side). Same keys, same minibatches,
same result up to float rounding (tested).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from wassml.train import classifier_loss, create_train_state, make_step, sweep

__all__ = ["fit_seeds", "fit_with_milestones", "accuracy_seeds", "num_train_steps", "unstack"]


def num_train_steps(n: int, *, epochs: int, batch_size: int, min_steps: int, max_steps: int) -> int:
  """Steps for ``epochs`` passes over ``n`` examples, clipped to ``[min_steps, max_steps]``."""
  return int(np.clip(epochs * int(np.ceil(n / batch_size)), min_steps, max_steps))


def _step_body(module, x, y, n_valid, loop_key, batch_size):
  """``body(i, state)``: Adam step ``i`` on a minibatch drawn from the valid rows (keys from ``(loop_key, i)``)."""
  step = make_step(classifier_loss(module.apply))

  def body(i, st):
    k_idx, k_step = jax.random.split(jax.random.fold_in(loop_key, i))
    idx = jax.random.randint(k_idx, (batch_size,), 0, jnp.maximum(n_valid, 1))
    st, _ = step(st, {"x": x[idx], "y": y[idx]}, k_step)
    return st

  return body


def _variables(state) -> Any:
  """The model variables of a train state (``params``, and ``batch_stats`` when present)."""
  out = {"params": state.params}
  if state.batch_stats:
    out["batch_stats"] = state.batch_stats
  return out


def _run_one(h, *, module, tx, batch_size):
  """One seed's run: fresh init, then ``h['steps']`` steps (a traced trip count)."""
  init_key, loop_key = jax.random.split(h["key"])
  x, y, n_valid = h["x"], h["y"], h["n"]
  state = create_train_state(init_key, module, x[:1], tx)
  body = _step_body(module, x, y, n_valid, loop_key, batch_size)
  return _variables(jax.lax.fori_loop(0, h["steps"], body, state))


@functools.lru_cache(maxsize=None)
def _optimizer(learning_rate: float, weight_decay: float) -> optax.GradientTransformation:
  return optax.adamw(learning_rate, weight_decay=weight_decay) if weight_decay else optax.adam(learning_rate)


def _on_cpu() -> bool:
  return jax.default_backend() == "cpu"


@functools.lru_cache(maxsize=None)
def _host_programs(module: nn.Module, learning_rate: float, weight_decay: float, batch_size: int):
  """Compiled ``init(key, x1) -> state`` and ``advance(state, x, y, n_valid, loop_key, i) -> state`` (one step)."""
  tx = _optimizer(learning_rate, weight_decay)
  init = jax.jit(lambda key, x1: create_train_state(key, module, x1, tx))

  def advance(st, x, y, n_valid, loop_key, i):
    return _step_body(module, x, y, n_valid, loop_key, batch_size)(i, st)

  return init, jax.jit(advance)


def _host_steps(advance, state, x, y, n_valid, loop_key, start: int, stop: int):
  """Steps ``start .. stop-1`` of ``_step_body``, one compiled call each (same keys as the ``fori_loop``)."""
  for i in range(int(start), int(stop)):
    state = advance(state, x, y, n_valid, loop_key, np.int32(i))
  return state


def _fit_seeds_host(keys, module, x, y, n_valid, num_steps, batch_size, learning_rate, weight_decay):
  init, advance = _host_programs(module, float(learning_rate), float(weight_decay), int(batch_size))
  out = []
  for s in range(len(n_valid)):
    init_key, loop_key = jax.random.split(keys[s])
    xs, ys = jnp.asarray(x[s], jnp.float32), jnp.asarray(y[s], jnp.int32)
    state = init(init_key, xs[:1])
    state = _host_steps(advance, state, xs, ys, jnp.asarray(n_valid[s], jnp.int32), loop_key, 0, num_steps)
    out.append(_variables(state))
  return jax.tree.map(lambda *leaves: jnp.stack(leaves), *out)


FIT_MODES = ("vmap", "map", "host", "auto")


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
    vectorize: str = "auto",
) -> Any:
  """Trains one fresh model per seed (in one call of ``wassml.train.sweep``); returns stacked variables.

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
    vectorize: ``"vmap"`` or ``"map"`` (the seeds in one compiled call of ``wassml.train.sweep``,
      the steps in a ``fori_loop``), ``"host"`` (one compiled step called seed after seed and
      step after step from Python; the fast path on XLA:CPU, see the module docstring) or
      ``"auto"`` (host on CPU, vmap elsewhere).

  Returns:
    Variables ``{"params": ...}`` with a leading ``[S]`` axis on every leaf.
  """
  n_valid = np.asarray(n_valid)
  if np.any(n_valid < 1):
    raise ValueError(f"fit_seeds: every seed needs at least one labelled example, got n_valid={n_valid.tolist()}")
  if vectorize not in FIT_MODES:
    raise ValueError(f"fit_seeds: unknown vectorize={vectorize!r}; valid: {list(FIT_MODES)}")
  if vectorize == "host" or (vectorize == "auto" and _on_cpu()):
    return _fit_seeds_host(keys, module, x, y, n_valid, int(num_steps), batch_size, learning_rate, weight_decay)
  tx = _optimizer(float(learning_rate), float(weight_decay))  # cached: the sweep's program is reused
  s = len(n_valid)
  batch = {
      "key": keys,
      "x": jnp.asarray(x, jnp.float32),
      "y": jnp.asarray(y, jnp.int32),
      "n": jnp.asarray(n_valid, jnp.int32),
      "steps": jnp.full((s,), int(num_steps), jnp.int32),
  }
  return sweep(_run_one, batch, static_kwargs={"module": module, "tx": tx, "batch_size": int(batch_size)},
               vectorize="vmap" if vectorize == "auto" else vectorize)


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
) -> Any:
  """One model trained on all of ``x``, handed to ``on_milestone(step, variables)`` at each milestone.

  The same run as :func:`fit_seeds` for one seed with ``n_valid = len(x)`` and
  ``num_steps = milestones[-1]`` (same initialisation, minibatches and dropout keys), cut into
  compiled segments between milestones, e.g. to follow a long full-data training epoch by epoch.

  Args:
    key: the seed's PRNG key.
    module: a linen classifier.
    x: ``[N, ...]`` inputs.
    y: ``[N]`` int labels.
    milestones: increasing step counts (> 0).
    batch_size: minibatch size.
    learning_rate: Adam step size.
    on_milestone: called after each milestone with the step count and the variables.

  Returns:
    The variables after ``milestones[-1]`` steps.
  """
  ms = [int(m) for m in milestones]
  if not ms or ms[0] < 1 or any(b <= a for a, b in zip(ms, ms[1:])):
    raise ValueError(f"fit_with_milestones: milestones must be increasing positive step counts, got {ms}")
  x = jnp.asarray(x, jnp.float32)
  y = jnp.asarray(y, jnp.int32)
  init_key, loop_key = jax.random.split(key)
  n = jnp.asarray(x.shape[0], jnp.int32)
  if _on_cpu():  # one compiled step per call (see the module docstring)
    init, one_step = _host_programs(module, float(learning_rate), 0.0, int(batch_size))
    state = init(init_key, x[:1])
    advance = lambda st, start, stop: _host_steps(one_step, st, x, y, n, loop_key, start, stop)  # noqa: E731
  else:
    state = create_train_state(init_key, module, x[:1], optax.adam(learning_rate))
    segment = jax.jit(lambda st, x, y, loop_key, start, stop: jax.lax.fori_loop(
        start, stop, _step_body(module, x, y, n, loop_key, int(batch_size)), st))
    advance = lambda st, start, stop: segment(st, x, y, loop_key, jnp.asarray(start, jnp.int32),  # noqa: E731
                                              jnp.asarray(stop, jnp.int32))

  done = 0
  for m in ms:
    state = advance(state, done, m)
    done = m
    if on_milestone is not None:
      on_milestone(m, _variables(state))
  return _variables(state)


@functools.lru_cache(maxsize=None)
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
