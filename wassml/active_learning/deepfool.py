"""DeepFool (Moosavi-Dezfooli et al. 2016): the smallest L2 perturbation that flips a prediction.

DeepFool alternates a linearisation of the classifier's logits around the current point and a step
onto the closest linearised decision boundary. It is the scoring engine of DFAL (Ducoffe thesis,
ch. 4): the norm of the perturbation estimates the distance of an input to the decision boundary.

The attack is written for ONE example (a function of ``x: [*input_shape]``) and is vmapped at the
call site; the loop has a fixed number of iterations (masked once the label has flipped) so that it
jit-compiles and vmaps.
"""

from __future__ import annotations

import functools
from typing import Callable

import flax
import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = ["DeepFoolResult", "deepfool", "deepfool_batch"]


@flax.struct.dataclass
class DeepFoolResult:
  """The outcome of one DeepFool attack.

  Attributes:
    perturbation: ``[*input_shape]`` the total perturbation ``r`` (the adversarial point is
      ``x + (1 + overshoot) r``).
    norm: scalar, ``||(1 + overshoot) r||_2``.
    adversarial: ``[*input_shape]`` the perturbed input.
    original_label: scalar int, ``argmax f(x)``.
    adversarial_label: scalar int, ``argmax f(x + r)``.
    flipped: scalar bool, whether the label changed within ``max_iters``.
    num_iters: scalar int, linearisation steps taken.
  """

  perturbation: jax.Array
  norm: jax.Array
  adversarial: jax.Array
  original_label: jax.Array
  adversarial_label: jax.Array
  flipped: jax.Array
  num_iters: jax.Array


@functools.partial(jax.jit, static_argnames=("logits_fn", "max_iters", "overshoot", "step_eps"))
def deepfool(
    logits_fn: Callable[[object, jax.Array], jax.Array],
    params: object,
    x: ArrayLike,
    *,
    max_iters: int = 10,
    overshoot: float = 0.0,
    step_eps: float = 1e-4,
) -> DeepFoolResult:
  """Multi-class DeepFool on the logits of one example.

  At each step, with ``k0`` the original label, ``w_k = grad f_k - grad f_k0`` and
  ``f'_k = f_k - f_k0``, the closest linearised boundary is ``l = argmin_{k != k0} |f'_k|/||w_k||``
  and the step is ``r_i = (|f'_l| + step_eps) / ||w_l||^2 w_l``. It stops (by masking) as soon as
  ``argmax f(x + (1 + overshoot) r) != k0`` or after ``max_iters`` steps. For an affine classifier
  the first step lands on the closest boundary: ``||r|| = min_k |f'_k| / ||w_k||`` (up to
  ``step_eps / ||w_l||``).

  Args:
    logits_fn: ``logits_fn(params, x)`` maps one input ``[*input_shape]`` to logits ``[K]``
      (``K >= 2``). It is a static (hashable) argument: build it once per model so that new
      weights (``params``) reuse the compiled attack.
    params: the pytree of weights passed to ``logits_fn``.
    x: ``[*input_shape]`` the input.
    max_iters: the most linearisation steps (10 in the thesis).
    overshoot: the final push past the boundary (0 in the thesis; 0.02 in the original paper).
    step_eps: added to each step's distance so that the point crosses the boundary (the original
      implementation uses 1e-4).

  Returns:
    A :class:`DeepFoolResult`.
  """
  x = jnp.asarray(x, jnp.float32)
  f_of = lambda z: logits_fn(params, z)
  logits0 = f_of(x)
  if logits0.ndim != 1 or logits0.shape[0] < 2:
    raise ValueError(f"deepfool: logits_fn must return logits of shape [K >= 2] for one example, got {logits0.shape}")
  num_classes = logits0.shape[0]
  k0 = jnp.argmax(logits0)
  jac_fn = jax.jacrev(f_of)

  def body(_, carry):
    r, active, n_iter = carry
    xi = x + (1.0 + overshoot) * r
    f = f_of(xi)
    jac = jac_fn(xi).reshape(num_classes, -1)  # [K, d]
    w = jac - jac[k0]
    fp = f - f[k0]
    w_norm = jnp.linalg.norm(w, axis=1) + 1e-12
    dist = jnp.abs(fp) / w_norm
    dist = jnp.where(jnp.arange(num_classes) == k0, jnp.inf, dist)
    l = jnp.argmin(dist)
    r_i = ((jnp.abs(fp[l]) + step_eps) / w_norm[l] ** 2) * w[l]
    still = active & (jnp.argmax(f) == k0)
    r_new = jnp.where(still, r + r_i.reshape(x.shape), r)
    n_new = n_iter + still.astype(jnp.int32)
    # re-check after the step: masked out for the next iterations once flipped
    return r_new, still, n_new

  r0 = jnp.zeros_like(x)
  r, _, n_iter = jax.lax.fori_loop(0, max_iters, body, (r0, jnp.array(True), jnp.array(0, jnp.int32)))
  r_tot = (1.0 + overshoot) * r
  x_adv = x + r_tot
  adv_label = jnp.argmax(f_of(x_adv))
  return DeepFoolResult(
      perturbation=r,
      norm=jnp.linalg.norm(r_tot.reshape(-1)),
      adversarial=x_adv,
      original_label=k0,
      adversarial_label=adv_label,
      flipped=adv_label != k0,
      num_iters=n_iter,
  )


def deepfool_batch(
    logits_fn: Callable[[object, jax.Array], jax.Array],
    params: object,
    x: ArrayLike,
    *,
    max_iters: int = 10,
    overshoot: float = 0.0,
    step_eps: float = 1e-4,
    chunk_size: int = 256,
) -> DeepFoolResult:
  """DeepFool over a batch ``x: [n, *input_shape]`` (vmapped, in chunks to bound memory).

  Args:
    logits_fn: ``logits_fn(params, x)``: one example ``[*input_shape]`` -> logits ``[K]``.
    params: weights passed to ``logits_fn``.
    x: ``[n, *input_shape]``.
    max_iters, overshoot, step_eps: see :func:`deepfool`.
    chunk_size: examples per vmapped call.

  Returns:
    A :class:`DeepFoolResult` whose fields have a leading ``[n]`` axis.
  """
  x = jnp.asarray(x, jnp.float32)
  if x.ndim < 2 or x.shape[0] == 0:
    raise ValueError(f"deepfool_batch: x must be [n >= 1, *input_shape], got shape {x.shape}")
  outs = [
      _deepfool_vmapped(logits_fn, params, x[i : i + chunk_size], max_iters, overshoot, step_eps)
      for i in range(0, x.shape[0], chunk_size)
  ]
  return jax.tree.map(lambda *a: jnp.concatenate(a, axis=0), *outs)


@functools.partial(jax.jit, static_argnums=(0, 3, 4, 5))
def _deepfool_vmapped(logits_fn, params, x, max_iters, overshoot, step_eps):
  return jax.vmap(
      lambda xi: deepfool(logits_fn, params, xi, max_iters=max_iters, overshoot=overshoot, step_eps=step_eps)
  )(x)
