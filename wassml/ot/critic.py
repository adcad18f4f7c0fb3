"""WGAN-GP critic objective (Gulrajani et al.), shared by WAMiC, ARWGAN and the
generative models.

Kantorovich-Rubinstein: ``W_1(mu, nu) = sup_{Lip(f) <= 1} E_mu f - E_nu f``. The
critic ``f`` maximises ``E_real f - E_fake f`` under the soft 1-Lipschitz
penalty ``lambda E_{x~} (||grad f(x~)||_2 - 1)^2`` with ``x~ = t x_real + (1-t)
x_fake``, ``t ~ U(0, 1)`` per pair.
"""

from __future__ import annotations

from typing import Callable, Optional, Tuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

CriticFn = Callable[[jax.Array], jax.Array]


def _interpolates(rng, real, fake):
  if jnp.shape(real) != jnp.shape(fake):
    raise ValueError(
        f"real and fake must have the same shape [n, ...] for the gradient penalty, got "
        f"{jnp.shape(real)} and {jnp.shape(fake)}.")
  real = jnp.asarray(real)
  fake = jnp.asarray(fake)
  t = jax.random.uniform(rng, (real.shape[0],) + (1,) * (real.ndim - 1), real.dtype)
  return t * real + (1.0 - t) * fake


def gradient_penalty(rng: jax.Array, critic_fn: CriticFn, real: ArrayLike,
                     fake: ArrayLike) -> jax.Array:
  """WGAN-GP penalty ``mean_i (||grad_x f(x~_i)||_2 - 1)^2``.

  Args:
    rng: ``jax.random.key`` for the interpolation coefficients.
    critic_fn: ``critic_fn(x: [n, ...]) -> [n]``, acting per example (no
      cross-example coupling such as batch norm in training mode).
    real: ``[n, ...]`` real samples.
    fake: ``[n, ...]`` generated samples (same shape).

  Returns:
    scalar penalty (differentiable with respect to the critic's parameters).
  """
  xt = _interpolates(rng, real, fake)
  grads = jax.grad(lambda z: jnp.sum(critic_fn(z)))(xt)
  sq = jnp.sum(grads.reshape(grads.shape[0], -1) ** 2, axis=1)
  # Safe norm: the gradient of sqrt at 0 is replaced by 0.
  norm = jnp.where(sq > 0, jnp.sqrt(jnp.where(sq > 0, sq, 1.0)), 0.0)
  return jnp.mean((norm - 1.0) ** 2)


def _weighted_mean(v, w):
  if w is None:
    return jnp.mean(v)
  w = jnp.asarray(w, v.dtype)
  if w.shape != v.shape:
    raise ValueError(f"weights must have shape {v.shape}, got {w.shape}.")
  return jnp.sum(w * v) / jnp.sum(w)


def critic_loss(
    rng: jax.Array,
    critic_fn: CriticFn,
    real: ArrayLike,
    fake: ArrayLike,
    *,
    gp_weight: float = 10.0,
    real_weights: Optional[ArrayLike] = None,
    fake_weights: Optional[ArrayLike] = None,
) -> Tuple[jax.Array, jax.Array]:
  """WGAN-GP critic loss (to minimise).

  ``w1 = sum_i a_i f(real_i) / sum a - sum_j b_j f(fake_j) / sum b`` (plain
  means without weights) and ``loss = -w1 + gp_weight * gradient_penalty``.

  Args:
    rng: ``jax.random.key``.
    critic_fn: ``critic_fn(x: [n, ...]) -> [n]``.
    real: ``[n, ...]`` real samples.
    fake: ``[n, ...]`` generated samples (same shape, for the interpolates).
    gp_weight: ``lambda``.
    real_weights: ``[n]`` non-negative weights ``a`` (ARWGAN) or None.
    fake_weights: ``[n]`` non-negative weights ``b`` or None.

  Returns:
    ``(loss, w1_estimate)`` scalars.
  """
  f_real = critic_fn(jnp.asarray(real))
  f_fake = critic_fn(jnp.asarray(fake))
  if f_real.ndim != 1:
    raise ValueError(f"critic_fn must return shape [n], got {f_real.shape}.")
  w1 = _weighted_mean(f_real, real_weights) - _weighted_mean(f_fake, fake_weights)
  gp = gradient_penalty(rng, critic_fn, real, fake)
  return -w1 + gp_weight * gp, w1
