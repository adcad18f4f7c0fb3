"""The shared virtual-adversarial direction (VAT-style power iteration).

For a divergence ``D`` (see :mod:`wassml.regularization.divergences`), a model ``f`` and inputs
``x``, the virtual adversarial perturbation is

    r = argmax_{||r|| <= radius} D(f̂(x), f(x + r)),

with ``f̂(x)`` the prediction at ``x`` with stopped gradient. It is approximated as in VAT
(Miyato et al., 2018): start from a random unit direction ``d``, then ``num_iters`` times set
``d <- normalize(grad_d D(f̂(x), f(x + xi d)))``; return ``radius * d``. For KL (a minimum at
``r = 0`` with Hessian ``H``) this is the power iteration for the top eigenvector of ``H``. VAT uses
``D = KL``; WAR uses ``D = OT^eps_C`` (label OT).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from wassml.regularization.divergences import Divergence


def l2_normalize(d: ArrayLike, eps: float = 1e-12) -> jax.Array:
  """Normalises each example (axis 0 is the batch) to unit L2 norm over all its other axes."""
  d = jnp.asarray(d)
  axes = tuple(range(1, d.ndim))
  # Rescale by the max first (as the VAT reference code) so tiny gradients do not underflow.
  d = d / (jnp.max(jnp.abs(d), axis=axes, keepdims=True) + eps)
  return d / (jnp.sqrt(jnp.sum(d * d, axis=axes, keepdims=True)) + eps)


def adversarial_direction(
    rng: jax.Array,
    logits_fn: Callable[[jax.Array], jax.Array],
    x: ArrayLike,
    p: ArrayLike,
    divergence: Divergence,
    *,
    xi: float = 1e-2,
    num_iters: int = 1,
    radius: float = 1.0,
) -> jax.Array:
  """Virtual adversarial perturbation by power iteration.

  Args:
    rng: key for the random start.
    logits_fn: ``x [B, ...] -> logits [B, K]`` (the model with its parameters closed over).
    x: ``[B, ...]`` inputs.
    p: ``[B, K]`` target distribution, usually ``softmax(logits_fn(x))`` (gradient is stopped).
    divergence: ``(p [B, K], logits [B, K]) -> [B]``.
    xi: finite-difference step of the power iteration (``||xi d|| = xi`` per example). It must
      survive float32 rounding of ``x + xi d``: the VAT reference's ``1e-6`` (per-coordinate
      ~``1e-6 / sqrt(D)``) is below the float32 spacing of inputs near 1 for image-sized ``D``
      and then returns rounding noise for KL; ``1e-2`` is safe for ``[0, 1]`` pixels (see
      ``tests/test_regularization.py``).
    num_iters: number of power iterations (VAT and WAR use 1).
    radius: the norm ``rho`` of the returned perturbation (per example, L2 over all input axes).

  Returns:
    ``[B, ...]`` perturbations ``r`` with ``||r_i|| = radius``, gradient stopped.
  """
  if int(num_iters) != num_iters or num_iters < 1:
    raise ValueError(f"num_iters must be a positive integer, got {num_iters!r}.")
  if not xi > 0 or not radius > 0:
    raise ValueError(f"xi and radius must be > 0, got xi={xi}, radius={radius}.")
  x = jnp.asarray(x)
  p = jax.lax.stop_gradient(jnp.asarray(p))

  def objective(d):
    return jnp.sum(divergence(p, logits_fn(x + d)))

  d = jax.random.normal(rng, x.shape, dtype=x.dtype)
  for _ in range(int(num_iters)):
    d = jax.grad(objective)(xi * l2_normalize(d))
  return jax.lax.stop_gradient(radius * l2_normalize(d))


def adversarial_regularizer(
    rng: jax.Array,
    logits_fn: Callable[[jax.Array], jax.Array],
    x: ArrayLike,
    logits: ArrayLike,
    divergence: Divergence,
    *,
    xi: float = 1e-2,
    num_iters: int = 1,
    radius: float = 1.0,
) -> jax.Array:
  """``D(f̂(x), f(x + r_adv))`` per example: the VAT / WAR regularisation term.

  Args:
    rng: key for the adversarial direction's random start.
    logits_fn: ``x -> logits``; gradients flow to its closed-over parameters through ``f(x + r)``.
    x: ``[B, ...]`` inputs.
    logits: ``[B, K]`` clean logits ``f(x)`` (their softmax is the target, gradient stopped).
    divergence: ``(p, logits) -> [B]``.
    xi, num_iters, radius: see :func:`adversarial_direction`.

  Returns:
    ``[B]`` regularisation values.
  """
  p = jax.lax.stop_gradient(jax.nn.softmax(logits, axis=-1))
  r = adversarial_direction(
      rng, logits_fn, x, p, divergence, xi=xi, num_iters=num_iters, radius=radius)
  return divergence(p, logits_fn(jnp.asarray(x) + r))
