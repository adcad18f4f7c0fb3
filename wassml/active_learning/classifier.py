"""A trained classifier as the query strategies see it: a linen module plus its variables.

The strategies only need a few views of the model: logits, probabilities, penultimate features,
MC-dropout logits and a one-example logits function (for DeepFool). :class:`Classifier` provides
them with compiled, batched evaluation; the compiled functions are cached per module, so a new
round's weights reuse them.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

__all__ = ["Classifier", "eval_apply_fn", "example_logits_fn"]


@functools.lru_cache(maxsize=16)
def _eval_fn(module: nn.Module):
  @jax.jit
  def f(variables, x):
    logits, feats = module.apply(variables, x, train=False, return_features=True)
    return logits, feats

  return f


@functools.lru_cache(maxsize=16)
def _mc_fn(module: nn.Module, num_samples: int):
  @jax.jit
  def f(variables, rng, x):
    def one(k):
      out = module.apply(variables, x, train=True, rngs={"dropout": k}, mutable=["batch_stats"])
      return out[0]

    return jax.vmap(one)(jax.random.split(rng, num_samples))

  return f


@functools.lru_cache(maxsize=16)
def example_logits_fn(module: nn.Module):
  """``f(variables, x_one) -> logits [K]`` for ONE example, built once per module (hashable)."""

  def f(variables, x):
    return module.apply(variables, x[None], train=False)[0]

  return f


@functools.lru_cache(maxsize=16)
def eval_apply_fn(module: nn.Module):
  """``f(variables, x [n, ...]) -> logits [n, K]`` in evaluation mode, built once per module."""

  def f(variables, x):
    return module.apply(variables, x, train=False)

  return f


@dataclasses.dataclass(frozen=True)
class Classifier:
  """A trained classifier.

  Attributes:
    module: a linen classifier taking ``(x, train=..., return_features=...)`` (``wassml.nn``
      convention) and returning logits ``[n, K]``.
    variables: its variables (``{"params": ..., maybe "batch_stats": ...}``) for ONE model.
    batch_size: evaluation chunk size.
  """

  module: nn.Module
  variables: Any
  batch_size: int = 1024

  def _chunks(self, x, pad: bool = False) -> tuple[list, list[int]]:
    """Chunks of at most ``batch_size`` rows and their valid row counts.

    With ``pad``, each chunk is padded (repeating its first row) to a power of two: a few fixed
    shapes instead of one per input length, so later calls with other lengths (a last partial
    chunk) reuse the compiled programs. (Off for the deterministic views, whose values stay
    exactly those of earlier runs.)
    """
    x = np.asarray(x, np.float32) if not isinstance(x, jax.Array) else x
    if x.shape[0] == 0:
      raise ValueError("Classifier: empty input")
    chunks, valid = [], []
    for i in range(0, x.shape[0], self.batch_size):
      c = x[i : i + self.batch_size]
      m = c.shape[0]
      size = min(self.batch_size, max(8, 1 << (m - 1).bit_length()))
      if pad and size > m:
        fill = np.broadcast_to(np.asarray(c[:1]), (size - m,) + tuple(c.shape[1:]))
        c = jnp.concatenate([jnp.asarray(c), jnp.asarray(fill)])
      chunks.append(c)
      valid.append(m)
    return chunks, valid

  def logits_and_features(self, x: ArrayLike) -> tuple[jax.Array, jax.Array]:
    """``x: [n, ...]`` -> ``(logits [n, K], features [n, d])`` in evaluation mode."""
    f = _eval_fn(self.module)
    chunks, valid = self._chunks(x)
    outs = [f(self.variables, c) for c in chunks]
    return (jnp.concatenate([o[0][:m] for o, m in zip(outs, valid)]),
            jnp.concatenate([o[1][:m] for o, m in zip(outs, valid)]))

  def logits(self, x: ArrayLike) -> jax.Array:
    """``[n, ...]`` -> ``[n, K]``."""
    return self.logits_and_features(x)[0]

  def probs(self, x: ArrayLike) -> jax.Array:
    """``[n, ...]`` -> softmax probabilities ``[n, K]``."""
    return jax.nn.softmax(self.logits(x), axis=-1)

  def features(self, x: ArrayLike) -> jax.Array:
    """``[n, ...]`` -> penultimate features ``[n, d]``."""
    return self.logits_and_features(x)[1]

  def mc_logits(self, rng: jax.Array, x: ArrayLike, num_samples: int = 10) -> jax.Array:
    """MC-dropout logits ``[T, n, K]`` (dropout on, ``T = num_samples`` masks)."""
    f = _mc_fn(self.module, int(num_samples))
    chunks, valid = self._chunks(x, pad=True)  # MC-dropout of BALD: one program per chunk size
    keys = jax.random.split(rng, len(chunks))
    return jnp.concatenate([f(self.variables, k, c)[:, :m] for k, c, m in zip(keys, chunks, valid)], axis=1)

  @property
  def example_logits(self):
    """``f(variables, x_one) -> [K]`` (pass :attr:`variables` as the first argument)."""
    return example_logits_fn(self.module)

  @property
  def eval_apply(self):
    """``f(variables, x) -> logits [n, K]`` in evaluation mode (stable per module; for EGL/KFAC)."""
    return eval_apply_fn(self.module)
