"""The iteration driver shared by every iterative OT solver.

One convention for all of them (see :class:`wassml.ot.OTResult`): ``num_iters`` is a hard
maximum counted exactly, the stopping criterion is evaluated every ``check_every``
iterations and after the last one, and the solver stops as soon as ``error <= tol``.
"""

from __future__ import annotations

from typing import Any, Callable, Tuple

import jax
import jax.numpy as jnp

State = Any


def default_tol(dtype) -> float:
  """The default tolerance: ``1e-5`` (float32 and below) or ``1e-9`` (float64)."""
  return 1e-5 if jnp.finfo(dtype).bits <= 32 else 1e-9


def check_settings(num_iters, check_every, tol=None) -> None:
  """Eager checks of the settings every iterative solver shares."""
  if int(num_iters) < 1:
    raise ValueError(f"num_iters must be >= 1, got {num_iters!r}.")
  if int(check_every) < 1:
    raise ValueError(f"check_every must be >= 1, got {check_every!r}.")
  if tol is not None and not float(tol) >= 0:
    raise ValueError(f"tol must be >= 0, got {tol!r}.")


def check_choice(value, choices, name: str) -> None:
  """Raises ValueError unless ``value`` is one of ``choices``."""
  if value not in choices:
    raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}.")


def iterate(
    step: Callable[[State], State],
    error: Callable[[State, State], jax.Array],
    init: State,
    *,
    num_iters: int,
    tol: float,
    check_every: int,
    differentiable: bool = False,
) -> Tuple[State, jax.Array, jax.Array]:
  """Runs ``state <- step(state)`` until ``error(previous, state) <= tol``.

  Args:
    step: one iteration, ``state -> state`` (a pytree of arrays).
    error: ``(previous, current) -> scalar`` stopping criterion.
    init: initial state.
    num_iters: hard maximum of iterations (static); exactly this many with
      ``differentiable=True``.
    tol: stop when the criterion is ``<= tol`` (static float).
    check_every: evaluate the criterion every this many iterations (static); the last block
      is shortened so that no more than ``num_iters`` run.
    differentiable: run exactly ``num_iters`` iterations with ``lax.scan`` so that reverse-mode
      autodiff can go through them (``grad_mode="unroll"``).

  Returns:
    ``(state, iterations_run, last_error)``. ``last_error`` is ``inf`` only if
    ``num_iters == 0``.
  """
  num_iters = int(num_iters)
  check_every = int(check_every)
  if differentiable:
    if num_iters == 1:
      new = step(init)
      return new, jnp.asarray(1), error(init, new)
    x, _ = jax.lax.scan(lambda s, _: (step(s), None), init, None, length=num_iters - 1)
    new = step(x)
    return new, jnp.asarray(num_iters), error(x, new)

  def block(carry):
    x, n_it, _ = carry
    k = jnp.minimum(check_every, num_iters - n_it)
    x = jax.lax.fori_loop(0, k - 1, lambda _, s: step(s), x)
    new = step(x)
    return new, n_it + k, error(x, new).astype(err0.dtype)

  def cond(carry):
    _, n_it, err = carry
    return (n_it < num_iters) & ~(err <= tol)

  leaves = jax.tree_util.tree_leaves(init)
  dt = jnp.result_type(*leaves) if leaves else jnp.float32
  if not jnp.issubdtype(dt, jnp.floating):
    dt = jnp.float32
  err0 = jnp.asarray(jnp.inf, dt)
  x, n_it, err = jax.lax.while_loop(cond, block, (init, jnp.asarray(0), err0))
  return x, n_it, err
