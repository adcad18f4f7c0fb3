"""Text Deconvolution Saliency (TDS, thesis ch. 12.3, Vanni et al. 2018).

The text CNN convolves the ``[L, E]`` matrix of word embeddings with ``F`` filters of shape
``[k, E]`` (each spans the full embedding width), giving a feature map ``h: [L', F]`` before
max-pooling (``L' = L - k + 1`` for ``'VALID'`` padding). TDS projects the feature map back to
the input space with the *transposed* convolution that uses the same learned kernels,

    x_hat[i, e] = sum_f sum_j h[i - j, f] W[j, e, f]        (x_hat: [L, E]),

i.e. ``x_hat = J^T h`` with ``J`` the (bias-free) convolution as a linear map, and sums over the
embedding axis: ``s[i] = sum_e x_hat[i, e]``, one score per word. As in the thesis (and its
Keras code, a ``Conv2DTranspose`` loaded with the ``Conv2D`` kernels) the kernels are not
transposed along the embedding axis and no bias or non-linearity is applied after the
projection. The feature map is the conv output *after* its ReLU (the layer output in Keras).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike


def _kernel_3d(kernel: jax.Array) -> jax.Array:
  """Accepts ``[k, E, F]`` (1-D conv) or ``[k, E, 1, F]`` (the thesis's Conv2D) kernels."""
  if kernel.ndim == 4:
    if kernel.shape[2] != 1:
      raise ValueError(f"a Conv2D text kernel must be [k, E, 1, F], got {kernel.shape}")
    kernel = kernel[:, :, 0, :]
  if kernel.ndim != 3:
    raise ValueError(f"kernel must be [k, E, F] or [k, E, 1, F], got shape {kernel.shape}")
  return kernel


def _feature_map_3d(feature_map: jax.Array) -> jax.Array:
  """Accepts ``[B, L', F]`` or the Conv2D layout ``[B, L', 1, F]``."""
  if feature_map.ndim == 4:
    if feature_map.shape[2] != 1:
      raise ValueError(f"a Conv2D feature map must be [B, L', 1, F], got {feature_map.shape}")
    feature_map = feature_map[:, :, 0, :]
  if feature_map.ndim != 3:
    raise ValueError(f"feature_map must be [B, L', F] (or [B, L', 1, F]), got shape "
                     f"{feature_map.shape}")
  return feature_map


@functools.partial(jax.jit, static_argnames=("padding",))
def deconv_projection(feature_map: ArrayLike, kernel: ArrayLike, *,
                      padding: str = "VALID") -> jax.Array:
  """Projects a batch of text feature maps back to the embedding space.

  Args:
    feature_map: ``[B, L', F]`` conv outputs before pooling (``[B, L', 1, F]`` accepted).
    kernel: ``[k, E, F]`` learned conv kernels (``[k, E, 1, F]`` accepted).
    padding: the convolution's padding, ``'VALID'`` (``L = L' + k - 1``) or ``'SAME'``
      (``L = L'``).

  Returns:
    ``[B, L, E]`` the transposed convolution of the feature map with the kernels.
  """
  h = _feature_map_3d(jnp.asarray(feature_map))
  w = _kernel_3d(jnp.asarray(kernel)).astype(h.dtype)
  if h.shape[-1] != w.shape[-1]:
    raise ValueError(f"feature map has {h.shape[-1]} filters but the kernel has {w.shape[-1]}")
  if padding not in ("VALID", "SAME"):
    raise ValueError(f"padding must be 'VALID' or 'SAME', got {padding!r}")
  # The forward conv is NWC x WIO (I = E, O = F); transpose_kernel=True makes this the exact
  # adjoint (gradient) of that conv, i.e. the deconvolution of Zeiler & Fergus.
  return jax.lax.conv_transpose(h, w, strides=(1,), padding=padding,
                                dimension_numbers=("NWC", "WIO", "NWC"),
                                transpose_kernel=True)


@functools.partial(jax.jit, static_argnames=("padding",))
def deconv_saliency(feature_map: ArrayLike, kernel: ArrayLike, *,
                    padding: str = "VALID") -> jax.Array:
  """Text Deconvolution Saliency from feature maps: one score per word.

  Args:
    feature_map: ``[B, L', F]`` conv outputs before pooling.
    kernel: ``[k, E, F]`` learned conv kernels.
    padding: the convolution's padding.

  Returns:
    ``[B, L]`` saliency, the deconvolution summed over the embedding axis.
  """
  return deconv_projection(feature_map, kernel, padding=padding).sum(axis=-1)


def make_saliency_fn(feature_fn: Callable[[object, jax.Array], tuple[jax.Array, jax.Array]],
                     *, padding: str = "VALID") -> Callable[[object, jax.Array], jax.Array]:
  """Builds the jitted TDS of a batch of windows for a text CNN.

  Args:
    feature_fn: ``feature_fn(variables, ids [B, L]) -> (feature_map [B, L', F], kernel
      [k, E, F])``, the model's pre-pool feature map and its conv kernels.
    padding: the convolution's padding.

  Returns:
    ``saliency(variables, ids [B, L]) -> [B, L]``, one jitted call for the whole batch.
  """
  @jax.jit
  def saliency(variables, ids):
    h, w = feature_fn(variables, ids)
    return deconv_saliency(h, w, padding=padding)
  return saliency


def precision_at_k(scores: ArrayLike, relevant: ArrayLike, mask: ArrayLike | None = None,
                   k: int | None = None) -> jax.Array:
  """Fraction of the top-``k`` scored words that are relevant, per window.

  Args:
    scores: ``[N, L]`` word scores (higher = more salient).
    relevant: ``[N, L]`` bool, the planted (ground-truth) words.
    mask: ``[N, L]`` bool, real tokens (padding is never ranked).
    k: how many top words (default: per window, its number of relevant words).

  Returns:
    ``[N]`` precision@k (windows without a relevant word give NaN-free 0 and should be
    excluded by the caller).
  """
  scores = jnp.asarray(scores, jnp.float32)
  relevant = jnp.asarray(relevant, bool)
  if mask is not None:
    scores = jnp.where(jnp.asarray(mask, bool), scores, -jnp.inf)
  order = jnp.argsort(-scores, axis=-1)
  ranks = jnp.argsort(order, axis=-1)  # rank of each position, 0 = most salient
  kk = relevant.sum(-1) if k is None else jnp.full(scores.shape[:1], k)
  hits = (relevant & (ranks < kk[:, None])).sum(-1)
  return jnp.where(kk > 0, hits / jnp.maximum(kk, 1), 0.0)


def pearson(x: ArrayLike, y: ArrayLike, mask: ArrayLike | None = None) -> jax.Array:
  """Pearson correlation of two word-score rows, per window, over the real tokens.

  Args:
    x: ``[N, L]`` scores.
    y: ``[N, L]`` scores.
    mask: ``[N, L]`` bool (default: all).

  Returns:
    ``[N]`` correlations; NaN where a row is constant (correlation undefined).
  """
  x = jnp.asarray(x, jnp.float32)
  y = jnp.asarray(y, jnp.float32)
  m = jnp.ones_like(x) if mask is None else jnp.asarray(mask, jnp.float32)
  n = m.sum(-1, keepdims=True)
  xc = (x - (x * m).sum(-1, keepdims=True) / n) * m
  yc = (y - (y * m).sum(-1, keepdims=True) / n) * m
  den = jnp.sqrt((xc ** 2).sum(-1) * (yc ** 2).sum(-1))
  return jnp.where(den > 0, (xc * yc).sum(-1) / jnp.where(den > 0, den, 1.0), jnp.nan)


def text_cnn_saliency(model) -> Callable[[object, jax.Array], tuple[jax.Array, jax.Array]]:
  """The jitted TDS of :class:`wassml.nn.TextCNN` for a batch of windows.

  Args:
    model: a :class:`wassml.nn.TextCNN` (its conv is ``'VALID'``).

  Returns:
    ``fn(variables, ids [B, L]) -> (saliency [B, L], logits [B, K])``, one jitted call: the
    forward pass gives the logits and the pre-pool feature map ``[B, L - k + 1, F]``, which is
    projected back with the learned kernels ``[k, E, F]`` and summed over the embedding axis.
  """
  from wassml.nn import TextCNN  # pylint: disable=g-import-not-at-top

  @jax.jit
  def fn(variables, ids):
    logits, inter = model.apply(variables, ids, return_intermediates=True)
    kernel = TextCNN.kernels(variables["params"])
    return deconv_saliency(inter["feature_map"], kernel, padding="VALID"), logits
  return fn
