"""Seed / hyper-parameter sweeps as one compiled call (vmapped, or mapped run after run)."""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax

__all__ = ["sweep", "VECTORIZE_MODES"]

VECTORIZE_MODES = ("vmap", "map", "auto")


def _resolve(vectorize: str) -> str:
  if vectorize not in VECTORIZE_MODES:
    raise ValueError(f"sweep: unknown vectorize={vectorize!r}; valid: {list(VECTORIZE_MODES)}")
  if vectorize == "auto":
    return "map" if jax.default_backend() == "cpu" else "vmap"
  return vectorize


def sweep(run_fn: Callable[[Any], Any], keys_or_hparams: Any, *, in_axes: Any = 0,
          static_kwargs: dict | None = None, vectorize: str = "vmap") -> Any:
  """Runs a whole training run for a batch of seeds or hyper-parameter values at once.

  ``run_fn`` must be traceable end to end (init plus steps, e.g. with :func:`run_steps`); the
  batch of runs is jitted into a single compiled XLA call, either vectorised or mapped:

  - ``vectorize="vmap"`` (default): ``jax.vmap`` over the leading axis. The right choice on
    GPU/TPU, where the runs fill the accelerator together.
  - ``vectorize="map"``: ``jax.lax.map``, the runs one after another inside the same compiled
    call (same results, same single compilation). On XLA:CPU a vmapped convolution with
    per-run weights becomes a grouped convolution, which is slower than running the
    convolutions one run at a time (LeNet5, 3 seeds, batch 32, on the project's 2-core CPU:
    vmap took 1.15x the time of map with other jobs running; measure yours with
    ``experiments/bench_train``, row ``executions``).
  - ``vectorize="auto"``: ``"map"`` on the CPU backend, ``"vmap"`` elsewhere.

  Note for CNNs on XLA:CPU: any ``while`` loop around a training step (``lax.map`` here, a
  ``fori_loop`` / ``scan`` over steps inside ``run_fn``) leaves the weight-gradient
  convolutions in a layout that misses XLA:CPU's fast convolution path (narrow VGG8: 1.01 s
  per step in a loop vs 0.08 s as one jitted call). There, calling one compiled step from
  Python is faster: :func:`wassml.train.train_loop` with ``execution="host"`` (its ``"auto"`` on
  CPU) does that, measured by ``experiments/bench_train`` (row ``executions``).

  Args:
    run_fn: ``run_fn(key_or_hparam, **static_kwargs) -> pytree of results``.
    keys_or_hparams: a batch of keys (``jax.random.split(key, S)``), or a pytree of arrays whose
      leading axis is the sweep axis (e.g. ``{'lr': jnp.array([...]), 'key': keys}``).
    in_axes: ``jax.vmap`` in_axes for the one argument (``"map"`` supports only ``0``).
    static_kwargs: static (non-swept) keyword arguments of ``run_fn``.
    vectorize: ``"vmap"``, ``"map"`` or ``"auto"`` (see above).

  Returns:
    The results of every run, stacked on a leading axis of size ``S``.
  """
  kwargs = static_kwargs or {}
  mode = _resolve(vectorize)
  leaves = jax.tree_util.tree_leaves(keys_or_hparams)
  if not leaves:
    raise ValueError("sweep: keys_or_hparams is empty.")
  sizes = {jax.numpy.shape(leaf)[0] if jax.numpy.ndim(leaf) else None for leaf in leaves}
  if None in sizes or len(sizes) != 1:
    raise ValueError("sweep: every leaf of keys_or_hparams needs the same leading (sweep) axis, "
                     f"got leading sizes {sizes}.")
  if mode == "map" and in_axes != 0:
    raise ValueError(f"sweep: vectorize='map' maps over the leading axis of every leaf; got in_axes={in_axes!r} "
                     "(use vectorize='vmap' for other in_axes).")
  static_items = tuple(sorted(kwargs.items()))
  fn = None
  if getattr(run_fn, "__closure__", None) is None:  # not a closure: nothing captured is kept alive
    try:
      fn = _cached_program(run_fn, static_items, in_axes, mode)
    except TypeError:  # an unhashable static argument or in_axes
      fn = None
  if fn is None:  # a fresh program, traced and compiled at this call
    fn = _program(run_fn, static_items, in_axes, mode)
  return fn(keys_or_hparams)


def _program(run_fn, static_items, in_axes, mode):
  """The jitted sweep of ``run_fn`` (vmapped or ``lax.map``-ped over the leading axis)."""
  kwargs = dict(static_items)
  one = lambda h: run_fn(h, **kwargs)  # noqa: E731
  if mode == "vmap":
    return jax.jit(jax.vmap(one, in_axes=in_axes))
  return jax.jit(lambda hs: jax.lax.map(one, hs))


# The same run function with the same static arguments reuses its jitted program, so a sweep
# called again (every active-learning round, every tuning point) is neither traced nor compiled
# again (before this cache each call built a new jit and paid both). Only functions without
# closure cells (module-level functions, partials of them) are cached: a closure is usually
# rebuilt at every call, and caching it would keep the arrays it captured alive.
_cached_program = functools.lru_cache(maxsize=32)(_program)
