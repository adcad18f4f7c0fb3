"""Minimum (minibatch) Wasserstein estimation: fit a generator by SGD on an OT loss.

The generator ``g_theta`` pushes noise ``z ~ N(0, I)`` forward; ``alpha_theta = g_theta # zeta`` has
no density, so maximum likelihood is undefined (Peyré's slides, seed 003) and the fit minimises
``h_k^m(alpha_theta, beta_n)`` instead (Fatras et al., seed 004): the gradient of the minibatch loss
is an unbiased estimate of the gradient of its expectation, so SGD is sound.

``make_ot_fitting_step`` turns any loss ``loss(rng, x, y)`` of ``wassml.generative.losses`` into a
pure ``step(state, batch, rng) -> (state, metrics)``. ``fit`` runs the steps with the shared
:func:`wassml.train.train_loop` on epochs of data minibatches and keeps snapshots of generated
samples to show the fit over iterations.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training import train_state
from jax.typing import ArrayLike

from wassml import train as wtrain

Step = Callable[[Any, jax.Array, jax.Array], tuple[Any, dict[str, jax.Array]]]


class GeneratorState(train_state.TrainState):
  """A generator's train state; ``noise_dim`` is static."""

  noise_dim: int = train_state.struct.field(pytree_node=False, default=2)


def create_generator_state(rng: jax.Array, module: nn.Module, noise_dim: int,
                           tx: optax.GradientTransformation) -> GeneratorState:
  """Initialises a generator ``module`` (e.g. ``wassml.nn.MLP(num_outputs=d)``) on noise of
  dimension ``noise_dim``."""
  params = module.init(rng, jnp.zeros((1, noise_dim)))["params"]
  return GeneratorState.create(apply_fn=module.apply, params=params, tx=tx, noise_dim=noise_dim)


def sample(rng: jax.Array, state: GeneratorState, num: int) -> jax.Array:
  """Draws ``num`` generated samples ``[num, d]``."""
  z = jax.random.normal(rng, (num, state.noise_dim))
  return state.apply_fn({"params": state.params}, z)


def make_ot_fitting_step(loss_fn: Callable[[jax.Array, jax.Array, jax.Array], jax.Array],
                         num_generated: int | None = None) -> Step:
  """Builds the minimum-minibatch-Wasserstein step.

  Args:
    loss_fn: ``loss(rng, x_generated [n, d], y_data [n', d]) -> scalar``.
    num_generated: generated samples per step (default: the data batch size).

  Returns:
    ``step(state, batch, rng) -> (state, {"loss": ...})`` with ``batch: [n', d]`` data samples.
  """

  def step(state: GeneratorState, batch: jax.Array, rng: jax.Array):
    rng_z, rng_loss = jax.random.split(rng)
    n = batch.shape[0] if num_generated is None else num_generated
    z = jax.random.normal(rng_z, (n, state.noise_dim))

    def objective(params):
      return loss_fn(rng_loss, state.apply_fn({"params": params}, z), batch)

    loss, grads = jax.value_and_grad(objective)(state.params)
    return state.apply_gradients(grads=grads), {"loss": loss}

  return step


def fit(rng: jax.Array, state: Any, data: ArrayLike, step: Step, *, num_steps: int,
        batch_size: int, num_snapshots: int = 5,
        snapshot_fn: Callable[[jax.Array, Any], jax.Array] | None = None,
        progress: bool = True, desc: str = "fit", execution: str = "auto",
        writer: wtrain.MetricsWriter | None = None, log_every: int = 50
        ) -> tuple[Any, dict[str, Any]]:
  """Runs ``num_steps`` steps on epochs of data minibatches with :func:`wassml.train.train_loop`.

  Args:
    rng: key, split into the minibatch key (:class:`wassml.train.EpochBatches`: every epoch a
      fresh permutation of the data), the step key (step ``t`` uses ``fold_in(step_key, t)``)
      and the snapshot key.
    state: the state ``step`` updates.
    data: ``[N, d]`` training samples.
    step: a pure step function.
    num_steps: number of steps.
    batch_size: data samples per step (without replacement inside an epoch).
    num_snapshots: snapshots taken at evenly spaced steps (every ``ceil(num_steps /
      (num_snapshots - 1))`` steps and at the end), the first before training.
    snapshot_fn: ``snapshot_fn(rng, state) -> samples`` (e.g. ``sample(rng, state, 500)``).
    progress: show a tqdm bar (``WASSML_PROGRESS=0`` also hides it).
    desc: the bar's label.
    execution: :func:`wassml.train.train_loop`'s execution (``"auto"``: host steps on CPU, scan
      chunks on an accelerator; same numbers).
    writer: optional JSONL writer of the train means every ``log_every`` steps.
    log_every: logging period in steps (the returned metrics are the last period's means).

  Returns:
    ``(state, history)``: ``history[name]``, the mean over the last ``log_every`` steps of every
    metric the step returns; ``history["snapshots"]``, a list of ``(step, samples)``; and
    ``history["info"]``, the loop's info dict.
  """
  data = np.asarray(data)
  if data.ndim != 2:
    raise ValueError(f"data must be [N, d], got shape {data.shape}.")
  if batch_size > data.shape[0]:
    raise ValueError(f"batch_size {batch_size} is larger than the dataset ({data.shape[0]} samples).")
  if num_steps < 1:
    raise ValueError(f"num_steps must be >= 1, got {num_steps}.")
  batch_rng, step_rng, snap_rng = jax.random.split(rng, 3)

  snapshots, eval_fn, every = [], None, 0
  if snapshot_fn is not None:
    snapshots.append((0, np.asarray(snapshot_fn(jax.random.fold_in(snap_rng, 0), state))))
    every = -(-num_steps // max(num_snapshots - 1, 1))
    taken = []

    def eval_fn(st):
      taken.append(np.asarray(snapshot_fn(jax.random.fold_in(snap_rng, len(taken) + 1), st)))
      return {}

  with _progress(progress):
    state, info = wtrain.train_loop(
        state, step, wtrain.EpochBatches(data, batch_size, batch_rng), rng=step_rng,
        num_steps=num_steps, execution=execution, writer=writer, log_every=log_every,
        eval_fn=eval_fn, eval_every=every, desc=desc)
  if snapshot_fn is not None:
    snapshots += [(h["step"], x) for h, x in zip(info["history"], taken)]
  return state, {**info["last_train"], "snapshots": snapshots, "info": info}


@contextlib.contextmanager
def _progress(show: bool):
  """Hides :func:`wassml.train.progress` bars inside the block unless ``show``."""
  if show:
    yield
    return
  old = os.environ.get("WASSML_PROGRESS")
  os.environ["WASSML_PROGRESS"] = "0"
  try:
    yield
  finally:
    if old is None:
      os.environ.pop("WASSML_PROGRESS", None)
    else:
      os.environ["WASSML_PROGRESS"] = old
