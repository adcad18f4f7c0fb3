"""Full-float32 matrix products for the numerical (non-network) parts of wassml.

JAX's default float32 matmul is not float32 on accelerators: on NVIDIA GPUs since Ampere it runs in
TF32 (a 10-bit mantissa) and on TPUs in one bfloat16 pass, both with a relative rounding of about
1e-3. Networks tolerate that. Optimal transport and the statistics around it do not:

- a squared-distance matrix ``|x|^2 + |y|^2 - 2 x.y`` loses ``1e-3 |x| |y|`` to cancellation, which
  can exceed the distance itself for close points;
- a Gibbs kernel ``exp(-C / eps)`` multiplies a cost error by ``1 / eps``, so a 1e-3 error in ``C``
  becomes a 10 % error of the kernel at ``eps = 0.01``;
- a Sinkhorn iteration repeats the kernel product hundreds of times, and EM, K-FAC and the sliced
  projections feed their products into covariances, inverses and sorts;
- VAT/WAR's finite-difference power step divides an output difference of order ``xi`` by ``xi``.

On an H200, with JAX's default precision, seven of the core tests failed by 1e-4 to 9 % (cost
matrices, the label-OT gradients, the soft confusion, the DeepJDOT cost and its gradient, a VAT
direction with cosine -0.85 to the exact one); all passed with ``JAX_DEFAULT_MATMUL_PRECISION=
highest`` (``experiments/device_check/results/h200``). So every product outside a network goes
through :func:`matmul` / :func:`einsum` at ``Precision.HIGHEST``, and functions that run a
caller's network for a numerical purpose (the adversarial direction's finite difference) trace it
under :func:`full_precision`. The networks themselves keep the caller's default: set
``jax.default_matmul_precision`` to change it. On a CPU all of this changes nothing (XLA:CPU
multiplies float32 in float32).
"""

from __future__ import annotations

import contextlib

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = ["HIGHEST", "matmul", "einsum", "full_precision"]

HIGHEST = jax.lax.Precision.HIGHEST


def matmul(a: ArrayLike, b: ArrayLike) -> jax.Array:
  """``a @ b`` (``jnp.matmul`` semantics, batching included) at full float32 precision."""
  return jnp.matmul(a, b, precision=HIGHEST)


def einsum(subscripts: str, *operands: ArrayLike) -> jax.Array:
  """``jnp.einsum`` at full float32 precision."""
  return jnp.einsum(subscripts, *operands, precision=HIGHEST)


def full_precision(precision: str | None = "float32") -> contextlib.AbstractContextManager:
  """A context in which every product traced without an explicit precision uses ``precision``.

  ``jax.default_matmul_precision(precision)`` (it applies at trace time, so it works inside
  ``jit``); ``precision=None`` leaves the caller's setting untouched.
  """
  return contextlib.nullcontext() if precision is None else jax.default_matmul_precision(precision)
