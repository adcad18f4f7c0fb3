"""Seed / hyper-parameter sweeps as one compiled, vmapped call."""

from __future__ import annotations

from typing import Any, Callable

import jax


def sweep(run_fn: Callable[[Any], Any], keys_or_hparams: Any, *, in_axes: Any = 0,
          static_kwargs: dict | None = None) -> Any:
  """Runs a whole training run for a batch of seeds or hyper-parameter values at once.

  ``run_fn`` must be traceable end to end (init plus steps, e.g. with :func:`run_steps`); it is
  vmapped over the leading axis of ``keys_or_hparams`` and jitted, so the batch runs in a single
  compiled XLA call.

  Args:
    run_fn: ``run_fn(key_or_hparam, **static_kwargs) -> pytree of results``.
    keys_or_hparams: a batch of keys (``jax.random.split(key, S)``), or a pytree of arrays whose
      leading axis is the sweep axis (e.g. ``{'lr': jnp.array([...]), 'key': keys}``).
    in_axes: ``jax.vmap`` in_axes for the one argument.
    static_kwargs: static (non-swept) keyword arguments of ``run_fn``.

  Returns:
    The results of every run, stacked on a leading axis of size ``S``.
  """
  kwargs = static_kwargs or {}
  leaves = jax.tree_util.tree_leaves(keys_or_hparams)
  if not leaves:
    raise ValueError("sweep: keys_or_hparams is empty.")
  sizes = {jax.numpy.shape(leaf)[0] if jax.numpy.ndim(leaf) else None for leaf in leaves}
  if None in sizes or len(sizes) != 1:
    raise ValueError("sweep: every leaf of keys_or_hparams needs the same leading (sweep) axis, "
                     f"got leading sizes {sizes}.")
  fn = jax.jit(jax.vmap(lambda h: run_fn(h, **kwargs), in_axes=in_axes))
  return fn(keys_or_hparams)
