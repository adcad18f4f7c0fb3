"""DeepFool (Moosavi-Dezfooli et al. 2016): the smallest L2 perturbation that flips a prediction.

DeepFool alternates a linearisation of the classifier's logits around the current point and a step
onto the closest linearised decision boundary. It is the scoring engine of DFAL (Ducoffe thesis,
ch. 4): the norm of the perturbation estimates the distance of an input to the decision boundary.

One linearisation step (:func:`_linearised_step`) is written for ONE example and vmapped.
:func:`deepfool` runs it in a ``while_loop`` for one example; :func:`deepfool_batch` runs it over a
batch with the examples that are still unflipped **compacted** into fixed-size, padded chunks (a
chunk steps until half of it has flipped, then the rest is re-packed): each example costs about its
own number of steps (DeepFool usually flips a label in 1-5 steps; the ``max_iters`` cap is only
paid by the examples that need it), and a single compiled program per
``(logits_fn, chunk_size, input shape)`` serves every call, whatever the number of examples. The
compiled programs are cached on ``logits_fn`` (a static, hashable argument) with the weights passed
as data, so a new round's weights of the same model reuse them
(:func:`wassml.active_learning.classifier.example_logits_fn` builds one such function per module).

Semantics (identical in both drivers): at each step, with ``k0 = argmax f(x)``, ``w_k = grad f_k -
grad f_k0`` and ``f'_k = f_k - f_k0`` at ``x + (1 + overshoot) r``, the closest linearised boundary is
``l = argmin_{k != k0} |f'_k| / ||w_k||`` and ``r <- r + (|f'_l| + step_eps) / ||w_l||^2 w_l``. An
example stops as soon as ``argmax f(x + (1 + overshoot) r) != k0`` or after ``max_iters`` steps. A
step that leaves ``r`` unchanged (a zero gradient, e.g. dead ReLUs) is a fixed point: every later
step would repeat it, so the example stops there and reports ``num_iters = max_iters`` (the count the
fixed-trip loop would give) without computing them.
"""

from __future__ import annotations

import functools
from typing import Callable

import flax
import jax
import jax.numpy as jnp
import numpy as np
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


def _check_settings(max_iters: int, chunk_size: int = 1) -> None:
  if int(max_iters) < 1:
    raise ValueError(f"deepfool: max_iters must be >= 1, got {max_iters}")
  if int(chunk_size) < 1:
    raise ValueError(f"deepfool_batch: chunk_size must be >= 1, got {chunk_size}")


def _linearised_step(logits_fn, params, x, r, k0, n, overshoot, step_eps):
  """One DeepFool step of ONE example from ``x + (1 + overshoot) r``.

  Args:
    logits_fn: ``logits_fn(params, x_one) -> [K]``.
    params: weights.
    x: ``[*input_shape]`` the clean input.
    r: ``[*input_shape]`` the perturbation so far.
    k0: scalar int, the original label (ignored when ``n == 0``: then it is read off the logits at
      ``x``, which this step evaluates anyway).
    n: scalar int, steps taken so far.
    overshoot, step_eps: see :func:`deepfool`.

  Returns:
    ``(r_new, logits at x + (1 + overshoot) r_new [K], k0)``.
  """
  f_of = lambda z: logits_fn(params, z)  # noqa: E731
  xi = x + (1.0 + overshoot) * r
  f, pull = jax.vjp(f_of, xi)
  if f.ndim != 1 or f.shape[0] < 2:
    raise ValueError(f"deepfool: logits_fn must return logits of shape [K >= 2] for one example, got {f.shape}")
  num_classes = f.shape[0]
  k0 = jnp.where(n == 0, jnp.argmax(f), k0).astype(jnp.int32)
  (jac,) = jax.vmap(pull)(jnp.eye(num_classes, dtype=f.dtype))  # the reverse-mode Jacobian, [K, *input_shape]
  jac = jac.reshape(num_classes, -1)  # [K, d]
  w = jac - jac[k0]
  fp = f - f[k0]
  w_norm = jnp.linalg.norm(w, axis=1) + 1e-12
  dist = jnp.abs(fp) / w_norm
  dist = jnp.where(jnp.arange(num_classes) == k0, jnp.inf, dist)
  l = jnp.argmin(dist)
  r_i = ((jnp.abs(fp[l]) + step_eps) / w_norm[l] ** 2) * w[l]
  r_new = r + r_i.reshape(x.shape)
  return r_new, f_of(x + (1.0 + overshoot) * r_new), k0


def _advance(logits_fn, params, x, r, k0, n, max_iters, overshoot, step_eps):
  """A step of ONE unfinished example and its bookkeeping: ``(r, logits, k0, n, done)``."""
  r_new, f_new, k0 = _linearised_step(logits_fn, params, x, r, k0, n, overshoot, step_eps)
  fixed_point = jnp.all(r_new == r)  # later steps would all repeat this one
  n_new = jnp.where(fixed_point, max_iters, n + 1).astype(jnp.int32)
  done = (jnp.argmax(f_new) != k0) | (n_new >= max_iters)
  return r_new, f_new, k0, n_new, done


def _result(x, r, logits, k0, n, overshoot, xp=jnp) -> DeepFoolResult:
  """The result from the final state (``logits`` are those at ``x + (1 + overshoot) r``).

  ``xp``: ``jnp`` inside a traced function, ``np`` on the host (no per-shape compilation).
  """
  r_tot = xp.float32(1.0 + overshoot) * r
  adv_label = xp.argmax(logits, axis=-1)
  batch_shape = logits.shape[:-1]
  return DeepFoolResult(
      perturbation=r,
      norm=xp.linalg.norm(r_tot.reshape(batch_shape + (-1,)), axis=-1),
      adversarial=x + r_tot,
      original_label=k0,
      adversarial_label=adv_label,
      flipped=adv_label != k0,
      num_iters=n,
  )


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
  """Multi-class DeepFool on the logits of one example (a ``while_loop`` that stops once flipped).

  At each step, with ``k0`` the original label, ``w_k = grad f_k - grad f_k0`` and
  ``f'_k = f_k - f_k0``, the closest linearised boundary is ``l = argmin_{k != k0} |f'_k|/||w_k||``
  and the step is ``r_i = (|f'_l| + step_eps) / ||w_l||^2 w_l``. It stops as soon as
  ``argmax f(x + (1 + overshoot) r) != k0`` or after ``max_iters`` steps. For an affine classifier
  the first step lands on the closest boundary: ``||r|| = min_k |f'_k| / ||w_k||`` (up to
  ``step_eps / ||w_l||``). Vmappable; for many examples prefer :func:`deepfool_batch`.

  Args:
    logits_fn: ``logits_fn(params, x)`` maps one input ``[*input_shape]`` to logits ``[K]``
      (``K >= 2``). It is a static (hashable) argument: build it once per model so that new
      weights (``params``) reuse the compiled attack.
    params: the pytree of weights passed to ``logits_fn``.
    x: ``[*input_shape]`` the input.
    max_iters: the most linearisation steps (10 in the thesis), ``>= 1``.
    overshoot: the final push past the boundary (0 in the thesis; 0.02 in the original paper).
    step_eps: added to each step's distance so that the point crosses the boundary (the original
      implementation uses 1e-4).

  Returns:
    A :class:`DeepFoolResult`.

  Raises:
    ValueError: ``max_iters < 1`` or logits that are not ``[K >= 2]``.
  """
  _check_settings(max_iters)
  x = jnp.asarray(x, jnp.float32)
  adv = functools.partial(_advance, logits_fn, params, x, max_iters=max_iters, overshoot=overshoot,
                          step_eps=step_eps)

  def body(carry):
    r, _, k0, n, _ = carry
    return adv(r, k0, n)

  f_shape = jax.eval_shape(logits_fn, params, x)  # the first step reads k0 off the logits at x
  init = (jnp.zeros_like(x), jnp.zeros(f_shape.shape, f_shape.dtype), jnp.array(0, jnp.int32),
          jnp.array(0, jnp.int32), jnp.array(False))
  r, f, k0, n, _ = jax.lax.while_loop(lambda c: ~c[4], body, init)
  return _result(x, r, f, k0, n, overshoot)


@functools.partial(jax.jit, static_argnums=(0, 8, 9, 10))
def _advance_chunk(logits_fn, params, x, r, logits, k0, n, done, max_iters, overshoot, step_eps):
  """Steps every unfinished example of a chunk until fewer than half of its rows are unfinished.

  ``x, r: [c, *input_shape]``, ``logits: [c, K]``, ``k0, n: [c]``, ``done: [c]`` (padding rows
  are ``done``). At least one step is taken; finished rows keep their state. Several steps per
  call reuse the call's buffers (a call costs far more than a step on XLA:CPU); stopping at half
  lets the driver re-pack the unfinished rows into full chunks.
  """
  step = jax.vmap(lambda xi, ri, ki, ni: _advance(logits_fn, params, xi, ri, ki, ni, max_iters, overshoot, step_eps))
  min_active = max(x.shape[0] // 2, 1)

  def keep(old, new, finished):
    return jnp.where(finished.reshape(finished.shape + (1,) * (new.ndim - 1)), old, new)

  def body(carry):
    r, f, k0, n, done, _ = carry
    r2, f2, k2, n2, d2 = step(x, r, k0, n)
    return (keep(r, r2, done), keep(f, f2, done), keep(k0, k2, done), keep(n, n2, done), done | d2, jnp.array(True))

  def cond(carry):
    return ~carry[5] | (jnp.sum(~carry[4]) >= min_active)

  r, f, k0, n, done, _ = jax.lax.while_loop(cond, body, (r, logits, k0, n, done, jnp.array(False)))
  return r, f, k0, n, done


def deepfool_batch(
    logits_fn: Callable[[object, jax.Array], jax.Array],
    params: object,
    x: ArrayLike,
    *,
    max_iters: int = 10,
    overshoot: float = 0.0,
    step_eps: float = 1e-4,
    chunk_size: int = 64,
) -> DeepFoolResult:
  """DeepFool over a batch ``x: [n, *input_shape]``: the same result as vmapping :func:`deepfool`.

  The unflipped examples are packed into chunks of exactly ``chunk_size`` (the last one padded);
  a chunk steps until fewer than half of its rows are unflipped, then the survivors are re-packed,
  so an example costs about its own number of steps (not ``max_iters``), and one compiled program
  (per ``logits_fn``, ``chunk_size``, input shape and settings) serves every call and every number
  of examples.

  Args:
    logits_fn: ``logits_fn(params, x)``: one example ``[*input_shape]`` -> logits ``[K]``; static
      and hashable (build it once per model, e.g.
      :func:`wassml.active_learning.classifier.example_logits_fn`).
    params: weights passed to ``logits_fn`` (data: new weights reuse the compiled program).
    x: ``[n, *input_shape]``.
    max_iters, overshoot, step_eps: see :func:`deepfool`.
    chunk_size: examples per compiled call (bounds the memory of the ``[chunk, K, d]`` Jacobians).

  Returns:
    A :class:`DeepFoolResult` whose fields have a leading ``[n]`` axis.

  Raises:
    ValueError: an empty or unbatched ``x``, ``max_iters < 1`` or ``chunk_size < 1``.
  """
  x = np.asarray(x, np.float32)
  if x.ndim < 2 or x.shape[0] == 0:
    raise ValueError(f"deepfool_batch: x must be [n >= 1, *input_shape], got shape {x.shape}")
  _check_settings(max_iters, chunk_size)
  num = x.shape[0]
  f_shape = jax.eval_shape(logits_fn, params, jax.ShapeDtypeStruct(x.shape[1:], jnp.float32))
  r = np.zeros_like(x)
  logits = np.zeros((num,) + f_shape.shape, f_shape.dtype)
  k0 = np.zeros(num, np.int32)
  n = np.zeros(num, np.int32)
  active = np.ones(num, bool)
  while active.any():
    idx = np.flatnonzero(active)
    for start in range(0, len(idx), chunk_size):
      rows = idx[start : start + chunk_size]
      padded = np.concatenate([rows, np.full(chunk_size - len(rows), rows[0])])
      is_pad = np.arange(chunk_size) >= len(rows)
      out = _advance_chunk(logits_fn, params, x[padded], r[padded], logits[padded], k0[padded], n[padded], is_pad,
                           int(max_iters), float(overshoot), float(step_eps))
      r_c, f_c, k_c, n_c, done_c = (np.asarray(o)[: len(rows)] for o in out)
      r[rows], logits[rows], k0[rows], n[rows] = r_c, f_c, k_c, n_c
      active[rows] = ~done_c
  return jax.tree.map(jnp.asarray, _result(x, r, logits, k0, n, float(overshoot), xp=np))
