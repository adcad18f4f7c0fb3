"""Minimum (minibatch) Wasserstein estimation: fit a generator by SGD on an OT loss.

The generator ``g_theta`` pushes noise ``z ~ N(0, I)`` forward; ``alpha_theta = g_theta # zeta`` has
no density, so maximum likelihood is undefined (Peyré's slides, seed 003) and the fit minimises
``h_k^m(alpha_theta, beta_n)`` instead (Fatras et al., seed 004): the gradient of the minibatch loss
is an unbiased estimate of the gradient of its expectation, so SGD is sound.

``make_ot_fitting_step`` turns any loss ``loss(rng, x, y)`` of ``wassml.generative.losses`` into a
pure ``step(state, batch, rng) -> (state, metrics)``. ``fit`` runs the steps in ``lax.scan`` chunks
and keeps snapshots of generated samples to show the fit over iterations.
"""

from __future__ import annotations

from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training import train_state
from jax.typing import ArrayLike
from tqdm.auto import tqdm

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
        progress: bool = True, desc: str = "fit") -> tuple[Any, dict[str, Any]]:
  """Runs ``num_steps`` steps on random data minibatches, in jitted ``lax.scan`` chunks.

  Args:
    rng: key; step ``t`` uses ``fold_in(rng, t)``.
    state: the state ``step`` updates.
    data: ``[N, d]`` training samples.
    step: a pure step function.
    num_steps: number of steps.
    batch_size: data samples per step (drawn without replacement).
    num_snapshots: snapshots taken at evenly spaced steps, the first before training.
    snapshot_fn: ``snapshot_fn(rng, state) -> samples`` (e.g. ``sample(rng, state, 500)``).
    progress: show a tqdm bar.
    desc: the bar's label.

  Returns:
    ``(state, history)``: ``history[name]: [num_steps]`` for every metric the step returns and
    ``history["snapshots"]``, a list of ``(step, samples)``.
  """
  data = jnp.asarray(data)
  if data.ndim != 2:
    raise ValueError(f"data must be [N, d], got shape {data.shape}.")
  if batch_size > data.shape[0]:
    raise ValueError(f"batch_size {batch_size} is larger than the dataset ({data.shape[0]} samples).")
  if num_steps < 1:
    raise ValueError(f"num_steps must be >= 1, got {num_steps}.")
  batch_rng, step_rng, snap_rng, last_rng = jax.random.split(rng, 4)

  # Data and keys are arguments, not closure constants: the same step on another dataset of the
  # same shape reuses the compiled chunk (in-process and through the persistent cache).
  @jax.jit
  def run_chunk(state, steps, data, batch_rng, step_rng):
    def body(state, t):
      idx = jax.random.choice(jax.random.fold_in(batch_rng, t), data.shape[0], (batch_size,),
                              replace=False)
      return step(state, data[idx], jax.random.fold_in(step_rng, t))
    return jax.lax.scan(body, state, steps)

  bounds = np.linspace(0, num_steps, max(num_snapshots, 2)).astype(int)
  snapshots, metrics = [], []
  bar = tqdm(total=num_steps, desc=desc, disable=not progress, leave=False)
  for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
    if snapshot_fn is not None:
      snapshots.append((int(lo), np.asarray(snapshot_fn(jax.random.fold_in(snap_rng, i), state))))
    state, chunk = run_chunk(state, jnp.arange(lo, hi), data, batch_rng, step_rng)
    metrics.append(jax.tree_util.tree_map(np.asarray, chunk))
    bar.update(int(hi - lo))
  bar.close()
  if snapshot_fn is not None:
    snapshots.append((num_steps, np.asarray(snapshot_fn(last_rng, state))))
  history = {k: np.concatenate([m[k] for m in metrics]) for k in metrics[0]}
  return state, {**history, "snapshots": snapshots}
