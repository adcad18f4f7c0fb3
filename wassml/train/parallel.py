"""Data-parallel training across all visible devices with ``jax.sharding``.

The batch's leading axis is split over a 1-D device mesh (``NamedSharding(mesh, P('data'))``);
the state is replicated. XLA inserts the gradient all-reduce, so the result equals the
single-device step up to float summation order. Multi-host: call ``jax.distributed.initialize()``
first; ``jax.devices()`` then spans every host and the same code runs unchanged.

Minibatch OT terms are not decomposable over the batch: :func:`per_shard_mean` computes a term on
each device's own shard (a minibatch) and averages them over devices, i.e. the incomplete
minibatch-OT estimator with one minibatch per device.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

DATA_AXIS = "data"


def make_mesh(devices: Any = None, axis_name: str = DATA_AXIS) -> Mesh:
  """A 1-D mesh over ``devices`` (default: all devices, every host)."""
  devices = jax.devices() if devices is None else devices
  return Mesh(np.asarray(devices), (axis_name,))


def shard_batch(batch: Any, mesh: Mesh, axis_name: str = DATA_AXIS) -> Any:
  """Places ``batch`` with its leading axis split over the mesh.

  Raises:
    ValueError: a leaf is a scalar or its batch size is not divisible by the device count.
  """
  n = mesh.shape[axis_name]
  for leaf in jax.tree_util.tree_leaves(batch):
    if np.ndim(leaf) == 0 or np.shape(leaf)[0] % n:
      raise ValueError(f"data_parallel: every batch leaf needs a leading axis divisible by the "
                       f"{n} devices, got shape {np.shape(leaf)}.")
  return jax.device_put(batch, NamedSharding(mesh, P(axis_name)))


def replicate(tree: Any, mesh: Mesh) -> Any:
  """Places ``tree`` replicated on every device of the mesh."""
  return jax.device_put(tree, NamedSharding(mesh, P()))


def data_parallel(step: Callable, mesh: Mesh | None = None, *, axis_name: str = DATA_AXIS,
                  donate_state: bool = False) -> Callable:
  """Wraps ``step(state, batch, rng) -> (state, metrics)`` to run data-parallel.

  Args:
    step: a pure step (from :func:`make_step` or hand-written).
    mesh: a 1-D mesh (default: :func:`make_mesh` over all devices).
    axis_name: the mesh axis the batch is split over.
    donate_state: donate the input state's buffers.

  Returns:
    ``sharded_step(state, batch, rng) -> (state, metrics)``, jitted with the state and metrics
    replicated and the batch sharded on its leading axis.
  """
  mesh = make_mesh(axis_name=axis_name) if mesh is None else mesh
  repl = NamedSharding(mesh, P())
  data = NamedSharding(mesh, P(axis_name))
  jstep = jax.jit(step, in_shardings=(repl, data, repl), out_shardings=(repl, repl),
                  donate_argnums=(0,) if donate_state else ())

  @functools.wraps(step)
  def sharded_step(state, batch, rng):
    return jstep(replicate(state, mesh), shard_batch(batch, mesh, axis_name), rng)

  sharded_step.mesh = mesh
  return sharded_step


def per_shard_mean(fn: Callable[..., jax.Array], mesh: Mesh | None = None, *,
                   axis_name: str = DATA_AXIS) -> Callable[..., jax.Array]:
  """Evaluates ``fn`` on each device's shard and averages the results over devices.

  ``fn(rng, *arrays) -> scalar`` (e.g. a minibatch OT loss between a source and a target shard).
  The returned ``g(rng, *arrays)`` splits each array's leading axis over the mesh, calls ``fn``
  on every shard with ``fold_in(rng, device_index)`` and returns the mean: with ``D`` devices and
  batches of ``D * m`` it is the average of ``D`` minibatch terms of size ``m`` (the incomplete
  estimator). Differentiable; usable inside a jitted / :func:`data_parallel` step.
  """
  mesh = make_mesh(axis_name=axis_name) if mesh is None else mesh

  def g(rng, *arrays):
    def local(r, *xs):
      i = jax.lax.axis_index(axis_name)
      return jax.lax.pmean(fn(jax.random.fold_in(r, i), *xs), axis_name)

    mapped = jax.shard_map(local, mesh=mesh, in_specs=(P(),) + (P(axis_name),) * len(arrays),
                           out_specs=P(), check_vma=False)
    return mapped(rng, *arrays)

  return g
