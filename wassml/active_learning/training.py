"""Training from scratch on each seed's labelled set, all seeds in ONE compiled call.

Each seed of an active-learning run owns a different labelled set, so the sets are stacked and
padded: ``x: [S, N_max, ...]``, ``y: [S, N_max]`` with the first ``n_valid[s]`` rows of seed ``s``
valid. One run (``wassml.train.create_train_state`` + ``num_steps`` steps of the harness's
classifier step on minibatches drawn uniformly from the valid rows) is vmapped over the seeds
by ``wassml.train.sweep`` (``vectorize='auto'``: mapped seed after seed on CPU,
where vmapped convolutions are slower); ``num_steps`` is a traced scalar (same HLO every round, so the
persistent compilation cache serves later rounds).
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
    vectorize: how the seeds share the compiled call (``wassml.train.sweep``): ``"vmap"``,
      ``"map"`` (one seed after another; faster for CNNs on XLA:CPU) or ``"auto"`` (map on CPU).

  Returns:
    Variables ``{"params": ...}`` with a leading ``[S]`` axis on every leaf.
  """
  n_valid = np.asarray(n_valid)
  if np.any(n_valid < 1):
    raise ValueError(f"fit_seeds: every seed needs at least one labelled example, got n_valid={n_valid.tolist()}")
  tx = optax.adamw(learning_rate, weight_decay=weight_decay) if weight_decay else optax.adam(learning_rate)
  s = len(n_valid)
  batch = {
      "key": keys,
      "x": jnp.asarray(x, jnp.float32),
      "y": jnp.asarray(y, jnp.int32),
      "n": jnp.asarray(n_valid, jnp.int32),
      "steps": jnp.full((s,), int(num_steps), jnp.int32),
  }
  return sweep(_run_one, batch, static_kwargs={"module": module, "tx": tx, "batch_size": int(batch_size)},
               vectorize=vectorize)


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
  state = create_train_state(init_key, module, x[:1], optax.adam(learning_rate))

  @jax.jit
  def advance(st, x, y, loop_key, start, stop):
    body = _step_body(module, x, y, jnp.asarray(x.shape[0], jnp.int32), loop_key, int(batch_size))
    return jax.lax.fori_loop(start, stop, body, st)

  done = 0
  for m in ms:
    state = advance(state, x, y, loop_key, jnp.asarray(done, jnp.int32), jnp.asarray(m, jnp.int32))
    done = m
    if on_milestone is not None:
      on_milestone(m, _variables(state))
  return _variables(state)


@functools.lru_cache(maxsize=None)
def _predict_fn(module: nn.Module):
  return jax.jit(jax.vmap(lambda v, x: jnp.argmax(module.apply(v, x, train=False), -1), in_axes=(0, None)))


def accuracy_seeds(module: nn.Module, variables: Any, x: ArrayLike, y: ArrayLike, *, batch_size: int = 2000) -> np.ndarray:
  """Test accuracy of each stacked model: ``[S]``."""
  f = _predict_fn(module)
  x = np.asarray(x, np.float32)
  preds = np.concatenate([np.asarray(f(variables, x[i : i + batch_size])) for i in range(0, len(x), batch_size)], axis=1)
  return (preds == np.asarray(y)[None]).mean(axis=1)


def unstack(variables: Any, s: int) -> Any:
  """The variables of seed ``s`` from a stacked pytree."""
  return jax.tree.map(lambda a: a[s], variables)
