"""DANN baseline (Ganin et al., 2016): a domain discriminator behind a gradient-reversal layer."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike


@jax.custom_vjp
def gradient_reversal(x: ArrayLike, scale: ArrayLike) -> jax.Array:
  """Identity on the forward pass; multiplies the gradient by ``-scale`` on the backward pass.

  Args:
    x: [...] any array (the features fed to the domain discriminator).
    scale: scalar reversal weight ``lambda >= 0``.

  Returns:
    ``x`` unchanged.
  """
  del scale
  return jnp.asarray(x)


def _grl_fwd(x, scale):
  return jnp.asarray(x), scale


def _grl_bwd(scale, g):
  return (-scale * g, jnp.zeros_like(scale))


gradient_reversal.defvjp(_grl_fwd, _grl_bwd)


def dann_schedule(progress: ArrayLike, gamma: float = 10.0) -> jax.Array:
  """Ganin et al.'s reversal-weight ramp ``2 / (1 + exp(-gamma p)) - 1`` for ``p`` in [0, 1]."""
  p = jnp.clip(jnp.asarray(progress, jnp.float32), 0.0, 1.0)
  return 2.0 / (1.0 + jnp.exp(-gamma * p)) - 1.0


def domain_loss(domain_logits_s: ArrayLike, domain_logits_t: ArrayLike) -> jax.Array:
  """Binary domain-classification loss, source = 1, target = 0.

  Args:
    domain_logits_s: [n] discriminator logits on (reversed) source features.
    domain_logits_t: [m] discriminator logits on (reversed) target features.

  Returns:
    Scalar mean of the two domains' sigmoid cross-entropies.
  """
  ls = optax.sigmoid_binary_cross_entropy(jnp.asarray(domain_logits_s), 1.0)
  lt = optax.sigmoid_binary_cross_entropy(jnp.asarray(domain_logits_t), 0.0)
  return 0.5 * (jnp.mean(ls) + jnp.mean(lt))
