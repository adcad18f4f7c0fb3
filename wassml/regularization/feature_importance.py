"""Unsupervised feature importance by a Wasserstein directional derivative (seed 000).

For data ``x ~ p`` and a direction ``F`` (``||F|| = 1``), let ``q_{t,F}`` be the law of
``x' + t F``, ``x' ~ p``. With a learned metric ``d_phi(x, y) = ||phi(y) - phi(x)||`` the most
important direction is

    F* = argmax_{||F|| = 1} | d/dt|_{t=0} W_{d_phi}(p, q_{t,F}) |,

i.e. the input direction along which shifting the data moves it most in the learned geometry;
``|F*|`` (per input feature) is the importance map.

Estimation. On a sample ``x_1..x_n`` the derivative is the finite difference
``W_{d_phi}(p_n, p_n + t F) / t`` (``W(p_n, p_n) = 0``) with the exact OT solver, maximised over
the sphere by projected gradient ascent (gradients through the OT cost by the envelope theorem).
Its first-order expansion, ``W(p_n, p_n + tF) <= (t/n) sum_i ||J_phi(x_i) F||``, gives the
starting point: the top eigenvector of ``G = (1/n) sum_i J_phi(x_i)^T J_phi(x_i)``.
``phi`` is learned without labels (the experiment uses an auto-encoder's encoder).
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from wassml.utils import linalg

PhiFn = Callable[[jax.Array], jax.Array]


def _metric_cost(phi_fn: PhiFn, x: jax.Array, y: jax.Array) -> jax.Array:
  """``C_ij = ||phi(x_i) - phi(y_j)||`` (safe at 0), ``[n, m]``."""
  fx, fy = phi_fn(x), phi_fn(y)
  sq = jnp.sum((fx[:, None, :] - fy[None, :, :]) ** 2, -1)
  return jnp.where(sq > 0, jnp.sqrt(jnp.where(sq > 0, sq, 1.0)), 0.0)


def shifted_wasserstein(phi_fn: PhiFn, x: ArrayLike, direction: ArrayLike, t: float,
                        solver: Callable | None = None) -> jax.Array:
  """``W_{d_phi}(p_n, q_{t,F})`` between the sample ``x: [n, D]`` and its shift ``x + t F``.

  Args:
    phi_fn: ``[n, D] -> [n, d]`` the learned embedding.
    x: ``[n, D]`` samples.
    direction: ``[D]`` the direction ``F`` (used as given; normalise it first).
    t: the shift size.
    solver: ``solver(cost) -> OTResult``; exact OT (``wassml.ot.emd``) by default.

  Returns:
    Scalar transport cost.
  """
  from wassml import ot  # pylint: disable=g-import-not-at-top
  solver = solver or ot.emd
  x = jnp.asarray(x)
  y = x + t * jnp.asarray(direction)[None, :]
  return solver(_metric_cost(phi_fn, x, y)).transport_cost


def directional_derivative(phi_fn: PhiFn, x: ArrayLike, direction: ArrayLike, *, t: float = 1e-2,
                           solver: Callable | None = None) -> jax.Array:
  """Finite-difference ``d/dt W_{d_phi}(p_n, q_{t,F})`` at 0 for a unit ``direction``."""
  f = jnp.asarray(direction)
  f = f / jnp.linalg.norm(f)
  return shifted_wasserstein(phi_fn, x, f, t, solver) / t


def jacobian_gram(phi_fn: PhiFn, x: ArrayLike) -> jax.Array:
  """``G = (1/n) sum_i J_phi(x_i)^T J_phi(x_i)``, ``[D, D]``."""
  x = jnp.asarray(x)
  jac = jax.vmap(jax.jacrev(lambda xi: phi_fn(xi[None])[0]))(x)  # [n, d, D]
  return linalg.einsum("nkd,nke->de", jac, jac) / x.shape[0]


def first_order_direction(phi_fn: PhiFn, x: ArrayLike) -> jax.Array:
  """Top eigenvector of :func:`jacobian_gram` (the linearised optimum), ``[D]``, unit norm."""
  g = np.asarray(jacobian_gram(phi_fn, x), np.float64)
  _, vecs = np.linalg.eigh(g)
  return jnp.asarray(vecs[:, -1], jnp.float32)


def importance_direction(
    rng: jax.Array,
    phi_fn: PhiFn,
    x: ArrayLike,
    *,
    t: float = 1e-2,
    num_steps: int = 50,
    learning_rate: float = 0.1,
    batch_size: int | None = 256,
    init: str = "first_order",
    solver: Callable | None = None,
) -> tuple[jax.Array, np.ndarray]:
  """``F*`` by projected gradient ascent of the Wasserstein directional derivative.

  Args:
    rng: key (minibatches of ``x``; random start when ``init="random"``).
    phi_fn: the learned embedding ``[n, D] -> [n, d]``.
    x: ``[N, D]`` data.
    t: finite-difference step.
    num_steps: ascent steps (0 returns the start).
    learning_rate: length of each (normalised) ascent step on the sphere.
    batch_size: samples per step's OT problem (None: all of ``x``).
    init: ``"first_order"`` (top eigenvector of the Jacobian Gram matrix) or ``"random"``.
    solver: OT solver (exact by default).

  Returns:
    ``(F [D] unit norm, derivative estimates per step [num_steps + 1])``.
  """
  if init not in ("first_order", "random"):
    raise ValueError(f"unknown init {init!r}; valid: 'first_order', 'random'.")
  x = jnp.asarray(x)
  if x.ndim != 2:
    raise ValueError(f"x must be [N, D], got shape {x.shape}.")
  n = x.shape[0]
  bs = n if batch_size is None else min(int(batch_size), n)
  k_init, k_loop = jax.random.split(rng)
  if init == "first_order":
    f = first_order_direction(phi_fn, x[:min(n, 2048)])
  else:
    f = jax.random.normal(k_init, (x.shape[1],))
  f = f / jnp.linalg.norm(f)

  value_and_grad = jax.jit(jax.value_and_grad(
      lambda f, xb: directional_derivative(phi_fn, xb, f, t=t, solver=solver)))
  history = []
  for step in range(int(num_steps) + 1):
    idx = jax.random.choice(jax.random.fold_in(k_loop, step), n, (bs,), replace=False)
    val, g = value_and_grad(f, x[idx])
    history.append(float(val))
    if step == num_steps:
      break
    g = g - linalg.matmul(g, f) * f  # Riemannian gradient on the sphere
    f = f + learning_rate * g / (jnp.linalg.norm(g) + 1e-12)
    f = f / jnp.linalg.norm(f)
  return f, np.asarray(history)


def precision_at_k(scores: ArrayLike, relevant: ArrayLike, k: int) -> float:
  """Fraction of the ``k`` highest-``scores`` features that are in ``relevant``."""
  s = np.asarray(scores).ravel()
  if not 1 <= k <= s.size:
    raise ValueError(f"k must lie in [1, {s.size}], got {k}.")
  top = np.argsort(-s, kind="stable")[:k]
  return float(np.isin(top, np.asarray(relevant)).mean())
