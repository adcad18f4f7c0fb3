"""Turning a loss into a pure step ``step(state, batch, rng) -> (state, metrics)``."""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from wassml.train.state import TrainState, apply_model

# loss_fn(params, batch_stats, batch, rng) -> (loss, (metrics, new_batch_stats))
LossFn = Callable[[Any, Any, Any, jax.Array], tuple[jax.Array, tuple[dict, Any]]]
StepFn = Callable[[TrainState, Any, jax.Array], tuple[TrainState, dict]]


def make_step(loss_fn: LossFn) -> StepFn:
  """Builds a pure gradient step from a loss.

  Args:
    loss_fn: ``loss_fn(params, batch_stats, batch, rng) -> (loss, (metrics, new_batch_stats))``;
      ``metrics`` is a dict of scalars.

  Returns:
    ``step(state, batch, rng) -> (state, metrics)`` (not jitted, so it composes with ``vmap``,
    ``sweep`` and ``data_parallel``; wrap it in ``jax.jit`` to run it alone). ``metrics`` gets
    the scalar ``'loss'``.
  """

  def step(state: TrainState, batch: Any, rng: jax.Array) -> tuple[TrainState, dict]:
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
    (loss, (metrics, new_bs)), grads = grad_fn(state.params, state.batch_stats, batch, rng)
    state = state.apply_gradients(grads=grads).replace(batch_stats=new_bs)
    return state, {**metrics, "loss": loss}

  return step


def classifier_loss(state_or_apply: Any, *, label_smoothing: float = 0.0,
                    x_key: str = "x", y_key: str = "y") -> LossFn:
  """Softmax cross-entropy loss for a classifier, in the :func:`make_step` signature.

  ``batch`` is a dict with ``x [B, ...]``, ``y [B]`` int labels and optionally ``w [B]``
  per-example weights (weighted mean). Metrics: ``accuracy``.

  Args:
    state_or_apply: a TrainState or the module's ``apply`` function.
    label_smoothing: optional label smoothing in ``[0, 1)``.
  """
  apply_fn = getattr(state_or_apply, "apply_fn", state_or_apply)

  def loss_fn(params, batch_stats, batch, rng):
    logits, new_bs = apply_model(apply_fn, params, batch[x_key], rng, train=True,
                                 batch_stats=batch_stats)
    k = logits.shape[-1]
    onehot = optax.smooth_labels(jax.nn.one_hot(batch[y_key], k), label_smoothing)
    per_example = optax.softmax_cross_entropy(logits, onehot)
    w = batch.get("w") if isinstance(batch, dict) else None
    w = jnp.ones_like(per_example) if w is None else w
    loss = jnp.sum(w * per_example) / jnp.sum(w)
    acc = jnp.mean(jnp.argmax(logits, -1) == batch[y_key])
    return loss, ({"accuracy": acc}, new_bs)

  return loss_fn


def run_steps(step: StepFn, state: TrainState, rng: jax.Array, num_steps: int,
              batch_fn: Callable[[jax.Array, jax.Array], Any]) -> tuple[TrainState, dict]:
  """Runs ``num_steps`` steps inside one ``lax.scan`` (traceable: use it in :func:`sweep`).

  Args:
    step: a pure step.
    state: the initial state.
    rng: key; step ``i`` uses ``fold_in(rng, i)`` split into a batch key and a step key.
    num_steps: static number of steps.
    batch_fn: ``batch_fn(key, i) -> batch``, a traceable batch sampler (e.g. random indices into
      device arrays).

  Returns:
    ``(state, metrics)`` with every metric stacked over steps, ``[num_steps]``.
  """

  def body(st, i):
    k_batch, k_step = jax.random.split(jax.random.fold_in(rng, i))
    return step(st, batch_fn(k_batch, i), k_step)

  return jax.lax.scan(body, state, jnp.arange(num_steps))
