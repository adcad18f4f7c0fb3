"""Text CNN of Ducoffe's thesis (part III, Text Deconvolution Saliency)."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


class FullWidthConv(nn.Module):
  """``nn.Conv(F, (k, E), 'VALID')`` over a one-channel ``[B, L, E, 1]`` "image" (the thesis's Keras
  ``Conv2D`` with kernels spanning the whole embedding width), computed as the identical 1-D
  convolution over ``[B, L, E]`` with ``E`` input channels: the same parameters
  (``kernel [k, E, 1, F]``, ``bias [F]``), about 250x faster on XLA:CPU than the 2-D layout.

  ``[B, L, E] -> [B, L - k + 1, F]``.
  """

  features: int
  kernel_width: int

  @nn.compact
  def __call__(self, emb: jax.Array) -> jax.Array:
    e = emb.shape[-1]
    kernel = self.param("kernel", nn.initializers.lecun_normal(),
                        (self.kernel_width, e, 1, self.features))
    bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
    y = jax.lax.conv_general_dilated(emb, kernel[:, :, 0, :].astype(emb.dtype), (1,), "VALID",
                                     dimension_numbers=("NWC", "WIO", "NWC"))
    return y + bias


class TextCNN(nn.Module):
  """Embeddings (128-d) -> Conv of ``num_filters`` kernels ``kernel_width x embed_dim`` spanning
  the whole embedding width -> ReLU -> max-pool over time -> Dense100-ReLU -> Dense
  ``num_classes`` (softmax in the loss).

  For the deconvolution saliency, ``return_intermediates=True`` also returns a dict with
  ``'embeddings' [B, L, E]``, ``'feature_map' [B, L - k + 1, F]`` (after ReLU, before pooling) and
  ``'features' [B, hidden]``; the learned kernels are ``params['conv']['kernel']`` with shape
  ``[k, E, 1, F]`` (see :meth:`kernels`).
  """

  vocab_size: int
  num_classes: int = 2
  embed_dim: int = 128
  num_filters: int = 512
  kernel_width: int = 3
  hidden: int = 100
  dropout_rate: float = 0.0

  @nn.compact
  def __call__(self, ids: jax.Array, train: bool = False, return_features: bool = False,
               return_intermediates: bool = False):
    """``ids [B, L]`` int token ids (0 = padding) -> logits ``[B, num_classes]``."""
    if ids.ndim != 2:
      raise ValueError(f"TextCNN expects token ids [B, L], got shape {ids.shape}.")
    if ids.shape[1] < self.kernel_width:
      raise ValueError(f"Sequences of length {ids.shape[1]} are shorter than the kernel "
                       f"width {self.kernel_width}.")
    emb = nn.Embed(self.vocab_size, self.embed_dim, name="embed")(ids)
    fmap = nn.relu(FullWidthConv(self.num_filters, self.kernel_width, name="conv")(emb))
    pooled = jnp.max(fmap, axis=1)
    pooled = nn.Dropout(self.dropout_rate, deterministic=not train)(pooled)
    feats = nn.relu(nn.Dense(self.hidden, name="hidden")(pooled))
    logits = nn.Dense(self.num_classes, name="out")(feats)
    if return_intermediates:
      return logits, {"embeddings": emb, "feature_map": fmap, "features": feats}
    return (logits, feats) if return_features else logits

  @staticmethod
  def kernels(params) -> jax.Array:
    """The conv kernels ``[k, E, F]`` from a parameter tree (the saliency needs them)."""
    return params["conv"]["kernel"][:, :, 0, :]
