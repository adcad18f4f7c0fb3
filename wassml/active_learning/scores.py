"""Pure informativeness scores of single-example query strategies (higher = query first).

* ``entropy_scores``: predictive entropy (uncertainty sampling; CEAL's query part).
* ``bald_scores``: BALD mutual information from ``T`` MC-dropout passes,
  ``I = H[mean_t p_t] - mean_t H[p_t]`` (Houlsby 2011; Gal 2017).
* ``committee_margin_scores``: DQBC's soft disagreement ``rg(x)`` (Ducoffe thesis eq. 3.3).
* ``egl_scores``: expected gradient length ``sum_y p(y|x) ||grad_theta CE(x, y)||`` (Settles 2008).
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = ["entropy", "entropy_scores", "bald_scores", "committee_margin_scores", "majority_vote", "egl_scores"]


def entropy(p: ArrayLike, axis: int = -1) -> jax.Array:
  """Shannon entropy (nats) of probability vectors along ``axis``."""
  p = jnp.asarray(p)
  return -jnp.sum(jnp.where(p > 0, p * jnp.log(jnp.where(p > 0, p, 1.0)), 0.0), axis=axis)


def entropy_scores(logits: ArrayLike) -> jax.Array:
  """``logits: [n, K]`` -> predictive entropy ``[n]``."""
  return entropy(jax.nn.softmax(jnp.asarray(logits), axis=-1))


def bald_scores(mc_logits: ArrayLike) -> jax.Array:
  """``mc_logits: [T, n, K]`` -> BALD mutual information ``[n]`` (>= 0)."""
  p = jax.nn.softmax(jnp.asarray(mc_logits), axis=-1)
  return entropy(p.mean(axis=0)) - entropy(p).mean(axis=0)


def majority_vote(probs: ArrayLike) -> jax.Array:
  """``probs: [M, n, K]`` committee outputs -> ``LABEL(x) = argmax_j sum_i 1[j = argmax_k p_i(k|x)]`` ``[n]``.

  Ties go to the smallest class index.
  """
  probs = jnp.asarray(probs)
  votes = jax.nn.one_hot(jnp.argmax(probs, axis=-1), probs.shape[-1]).sum(axis=0)  # [n, K]
  return jnp.argmax(votes, axis=-1)


def committee_margin_scores(probs: ArrayLike) -> jax.Array:
  """DQBC's ``rg(x) = sum_i [max_j p_i(j|x) - p_i(LABEL(x)|x)]`` for ``probs: [M, n, K]`` -> ``[n]``."""
  probs = jnp.asarray(probs)
  label = majority_vote(probs)
  p_label = jnp.take_along_axis(probs, label[None, :, None], axis=-1)[..., 0]  # [M, n]
  return jnp.sum(probs.max(axis=-1) - p_label, axis=0)


EGL_LOOPS = ("map", "host", "auto")


def _egl_example(apply_fn: Callable[..., jax.Array]):
  """``(variables, x [...]) -> EGL`` of one example.

  One forward pass and ONE vjp, vmapped over the ``K`` cotangents ``d CE(x, k) / d logits =
  p - e_k``. Only the cotangent is batched there, so the weight gradients of convolutions stay
  plain convolutions; vmapping ``grad`` over examples instead batches both operands, which
  XLA:CPU runs as grouped convolutions (2.7x slower for LeNet5).
  """
  def one(variables, x):
    logits, vjp = jax.vjp(lambda v: apply_fn(v, x[None])[0], variables)
    p = jax.nn.softmax(logits)
    cts = p[None, :] - jnp.eye(logits.shape[0], dtype=p.dtype)  # row k: d CE(x, k) / d logits
    g = jax.vmap(lambda ct: vjp(ct)[0])(cts)
    sq = sum(jnp.sum(jnp.square(l).reshape(l.shape[0], -1), axis=1) for l in jax.tree.leaves(g))
    return jnp.sum(p * jnp.sqrt(sq))

  return one


@functools.lru_cache(maxsize=16)
def _egl_fn(apply_fn: Callable[..., jax.Array]):
  """Compiled ``(variables, x [c, ...]) -> EGL [c]``, one example after another (``lax.map``)."""
  one = _egl_example(apply_fn)
  return jax.jit(lambda variables, xs: jax.lax.map(lambda xi: one(variables, xi), xs))


@functools.lru_cache(maxsize=16)
def _egl_host_fn(apply_fn: Callable[..., jax.Array]):
  """Compiled ``(variables, x [...]) -> EGL`` of one example (the host loop calls it per example)."""
  return jax.jit(_egl_example(apply_fn))


def egl_scores(apply_fn: Callable[..., jax.Array], variables: Any, x: ArrayLike, *,
               chunk_size: int = 128, loop: str = "auto") -> jax.Array:
  """Expected gradient length ``[n]`` of ``x: [n, ...]``: ``sum_k p(k|x) ||grad_theta CE(x, k)||``.

  Args:
    apply_fn: ``apply_fn(variables, x [b, ...]) -> logits [b, K]`` in evaluation mode. Must be
      hashable and stable across calls (e.g. built once per module) to reuse the compilation.
    variables: the variables differentiated (all parameters).
    x: candidates.
    chunk_size: examples per compiled call with ``loop="map"`` (the last chunk is padded: one
      program for any ``n``).
    loop: ``"map"``: ``lax.map`` over the examples of a chunk inside one program. ``"host"``:
      Python calls one compiled per-example program. ``"auto"``: host on CPU, map elsewhere.
      XLA:CPU lays out the weight-gradient convolutions of a program inside a ``while`` loop
      (``lax.map`` is one) in a slow non-canonical layout (see
      :mod:`wassml.active_learning.training`): on 256 images the map path took 1.6x (LeNet5) and
      4.5x (SmallCNN) the host loop's time (``experiments/active_learning/bench_egl.py``).

  Raises:
    ValueError: an unknown ``loop``.
  """
  if loop not in EGL_LOOPS:
    raise ValueError(f"egl_scores: unknown loop={loop!r}; valid: {list(EGL_LOOPS)}")
  x = jnp.asarray(x, jnp.float32)
  if x.shape[0] == 0:
    return jnp.zeros((0,), jnp.float32)
  if loop == "host" or (loop == "auto" and jax.default_backend() == "cpu"):
    f1 = _egl_host_fn(apply_fn)
    return jnp.stack([f1(variables, xi) for xi in x])
  f = _egl_fn(apply_fn)
  n = x.shape[0]
  size = min(chunk_size, n)
  out = []
  for i in range(0, n, size):
    c = x[i : i + size]
    m = c.shape[0]
    if m < size:  # pad with copies of the first row: same shape, same compiled program
      c = jnp.concatenate([c, jnp.broadcast_to(c[:1], (size - m,) + c.shape[1:])])
    out.append(f(variables, c)[:m])
  return jnp.concatenate(out)
