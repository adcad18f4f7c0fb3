"""The shared virtual-adversarial direction (VAT-style power iteration).

For a divergence ``D`` (see :mod:`wassml.regularization.divergences`), a model ``f`` and inputs
``x``, the virtual adversarial perturbation is

    r = argmax_{||r|| <= radius} D(f̂(x), f(x + r)),

with ``f̂(x)`` the prediction at ``x`` with stopped gradient. It is approximated as in VAT
(Miyato et al., 2018): start from a random unit direction ``d``, then ``num_iters`` times set
``d <- normalize(grad_d D(f̂(x), f(x + xi d)))``; return ``radius * d``. For KL (a minimum at
``r = 0`` with Hessian ``H``) this is the power iteration for the top eigenvector of ``H``. VAT uses
``D = KL``; WAR uses ``D = OT^eps_C`` (label OT).

Precision on accelerators. The power step is a finite difference: ``f(x + xi d) - f(x)`` is of
order ``xi``, while JAX's default float32 products on a GPU (TF32) or TPU (one bfloat16 pass) round
the logits at about 1e-3 relative. With ``xi = 1e-2`` the returned direction is then partly noise
(measured on an H200 for the MLP of ``tests/test_regularization.py``: cosine to the exact ``H d``
down to -0.85 on some examples; a TF32 emulation on the CPU gives -0.94). So on accelerators the
power iteration's passes are traced at full float32 precision (``precision="auto"``), and
:func:`adversarial_regularizer` recomputes the direction's target ``f(x)`` at that precision: a
target taken from the training forward (TF32) would differ from the full-precision ``f(x)`` by the
same 1e-3 and bias the finite difference (TF32 emulation: cosine down to -0.57,
``experiments/device_check/tf32_emulation.py``). The regulariser's
own value ``D(f̂(x), f(x + r))`` keeps the caller's precision.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from wassml.regularization.divergences import Divergence
from wassml.utils import linalg

PRECISIONS = ("auto", "float32", None)


def resolve_precision(precision: str | None) -> str | None:
  """The matmul precision of the power iteration: ``"auto"`` is ``"float32"`` off the CPU backend
  (where default float32 products are TF32 / bfloat16) and ``None`` (no change) on it."""
  if precision not in PRECISIONS:
    raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}.")
  if precision == "auto":
    return None if jax.default_backend() == "cpu" else "float32"
  return precision


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
    precision: str | None = "auto",
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
    precision: matmul precision of the power iteration's passes through ``logits_fn``:
      ``"auto"`` (full float32 on GPU/TPU, unchanged on CPU), ``"float32"``, or ``None`` (the
      caller's default). ``p`` should be computed at the same precision (see the module
      docstring; :func:`adversarial_regularizer` does this).

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
  with linalg.full_precision(resolve_precision(precision)):
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
    precision: str | None = "auto",
) -> jax.Array:
  """``D(f̂(x), f(x + r_adv))`` per example: the VAT / WAR regularisation term.

  Args:
    rng: key for the adversarial direction's random start.
    logits_fn: ``x -> logits``; gradients flow to its closed-over parameters through ``f(x + r)``.
    x: ``[B, ...]`` inputs.
    logits: ``[B, K]`` clean logits ``f(x)`` (their softmax is the target, gradient stopped).
    divergence: ``(p, logits) -> [B]``.
    xi, num_iters, radius: see :func:`adversarial_direction`.
    precision: see :func:`adversarial_direction`. When it resolves to a precision, the
      direction's target is ``softmax(logits_fn(x))`` recomputed at it (one extra forward pass);
      the regulariser's target stays ``softmax(logits)``.

  Returns:
    ``[B]`` regularisation values.
  """
  p = jax.lax.stop_gradient(jax.nn.softmax(logits, axis=-1))
  precision = resolve_precision(precision)
  p_dir = p
  if precision is not None:
    with linalg.full_precision(precision):
      p_dir = jax.lax.stop_gradient(jax.nn.softmax(logits_fn(jnp.asarray(x)), axis=-1))
  r = adversarial_direction(rng, logits_fn, x, p_dir, divergence, xi=xi, num_iters=num_iters,
                            radius=radius, precision=precision)
  return divergence(p, logits_fn(jnp.asarray(x) + r))
