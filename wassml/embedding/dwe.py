"""Deep Wasserstein Embedding (DWE): ``W_2^2`` learned as a squared Euclidean distance.

Ducoffe 2018 ch. 8 (Courty, Flamary & Ducoffe, "Learning Wasserstein Embeddings", ICLR 2018).
A siamese encoder ``phi`` maps a histogram (an image normalised to unit mass) to ``R^p``
(``p = 50``) and a decoder ``psi`` maps it back through a softmax over pixels. Given pairs with exact
targets ``y_i = W_2^2(x1_i, x2_i)`` (:mod:`wassml.embedding.pairs`), training minimises (eq. 8.1
plus the sparsity term of §8.3)

  ``mean_i (||phi(x1_i) - phi(x2_i)||^2 - y_i)^2``
  ``+ lambda mean_i [KL(x1_i || psi(phi(x1_i))) + KL(x2_i || psi(phi(x2_i)))]``
  ``+ mu mean_i [S(psi(phi(x1_i))) + S(psi(phi(x2_i)))]``,   ``S(r) = sum_k sqrt(r_k)``

with the reference code's settings: ``lambda = 10``, ``mu = 1e-3`` (an ``l_{1/2}`` pseudo-norm that
favours sparse reconstructions), Adam, batch 100, early stopping with patience 3 on the validation
loss. The KL is taken as in the reference code, data first (``sum x log(x / r)``, both clipped to
``[1e-7, 1]``), which is finite where the data has empty pixels.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

KL_CLIP = 1e-7  # Keras' K.epsilon(), the clip of the reference code
SPARSITY_EPS = 1e-7


@dataclasses.dataclass(frozen=True)
class DWELossWeights:
  """Weights of the DWE objective (reference code: ``loss_weights=[1, 1e1, 1e1, 1e-3, 1e-3]``).

  Attributes:
    reconstruction: ``lambda``, weight of each KL reconstruction term.
    sparsity: ``mu``, weight of each ``l_{1/2}`` sparsity term.
  """
  reconstruction: float = 10.0
  sparsity: float = 1e-3


def kl_reconstruction(x: ArrayLike, r: ArrayLike) -> jax.Array:
  """``KL(x || r) = sum_k x_k log(x_k / r_k)`` for one histogram and its reconstruction.

  Both are clipped to ``[1e-7, 1]`` first, as in the reference code, so empty pixels are finite.

  Args:
    x: ``[...]`` target histogram (any shape; summed over all axes).
    r: same shape, the decoder's softmax output.

  Returns:
    Scalar.
  """
  x = jnp.clip(jnp.asarray(x), KL_CLIP, 1.0)
  r = jnp.clip(jnp.asarray(r), KL_CLIP, 1.0)
  return jnp.sum(x * (jnp.log(x) - jnp.log(r)))


def sparsity_penalty(r: ArrayLike) -> jax.Array:
  """``l_{1/2}`` pseudo-norm ``sum_k sqrt(r_k + eps)`` of one reconstruction ``[...]`` (scalar)."""
  return jnp.sum(jnp.sqrt(jnp.asarray(r) + SPARSITY_EPS))


def dwe_loss(pred: ArrayLike, target: ArrayLike, x1: ArrayLike, x2: ArrayLike, r1: ArrayLike,
             r2: ArrayLike, weights: DWELossWeights = DWELossWeights()
             ) -> tuple[jax.Array, dict[str, jax.Array]]:
  """DWE objective for one minibatch of pairs.

  Args:
    pred: ``[b]`` predicted ``||phi(x1) - phi(x2)||^2``.
    target: ``[b]`` exact ``W_2^2(x1, x2)``.
    x1: ``[b, ...]`` first histograms (unit mass per example).
    x2: ``[b, ...]`` second histograms.
    r1: ``[b, ...]`` reconstructions ``psi(phi(x1))``.
    r2: ``[b, ...]`` reconstructions ``psi(phi(x2))``.
    weights: the ``lambda`` and ``mu`` weights.

  Returns:
    ``(loss, metrics)`` with the scalar loss and its terms ``mse``, ``kl``, ``sparsity``.
  """
  mse = jnp.mean((jnp.asarray(pred) - jnp.asarray(target)) ** 2)
  kl = jnp.mean(jax.vmap(kl_reconstruction)(x1, r1) + jax.vmap(kl_reconstruction)(x2, r2))
  sp = jnp.mean(jax.vmap(sparsity_penalty)(r1) + jax.vmap(sparsity_penalty)(r2))
  loss = mse + weights.reconstruction * kl + weights.sparsity * sp
  return loss, {"loss": loss, "mse": mse, "kl": kl, "sparsity": sp}


def squared_distance(z1: ArrayLike, z2: ArrayLike) -> jax.Array:
  """``||z1 - z2||^2`` along the last axis: ``[..., p], [..., p] -> [...]``."""
  return jnp.sum((jnp.asarray(z1) - jnp.asarray(z2)) ** 2, axis=-1)


def regression_scores(pred: ArrayLike, target: ArrayLike) -> dict[str, float]:
  """The thesis's test scores of predicted against exact ``W_2^2`` (Fig. 8.2).

  ``mse = mean (pred - y)^2``, ``relative_mse = mse / mean y^2`` (the reference code's ``errr``),
  ``correlation`` = Pearson's ``r``.

  Args:
    pred: ``[n]`` predictions.
    target: ``[n]`` exact values.

  Returns:
    Dict of floats ``mse``, ``relative_mse``, ``correlation``.
  """
  p = np.asarray(pred, np.float64).ravel()
  y = np.asarray(target, np.float64).ravel()
  if p.shape != y.shape or p.size < 2:
    raise ValueError(f"pred {p.shape} and target {y.shape} must be equal-length with >= 2 values.")
  mse = float(np.mean((p - y) ** 2))
  corr = float(np.corrcoef(p, y)[0, 1]) if np.std(p) > 0 and np.std(y) > 0 else float("nan")
  return {"mse": mse, "relative_mse": mse / float(np.mean(y ** 2)), "correlation": corr}


class DWE(nn.Module):
  """Siamese encoder ``phi`` and decoder ``psi`` from :mod:`wassml.nn` (METHODS.md §6).

  Inputs are histograms shaped ``[b, H, W, 1]`` (unit mass per image); outputs of ``decode`` have
  the same shape and unit mass (softmax over pixels).

  Attributes:
    image_shape: ``(H, W)`` of the grid.
    embedding_dim: ``p``, 50 in the thesis.
  """
  image_shape: tuple[int, int] = (28, 28)
  embedding_dim: int = 50

  def setup(self):
    from wassml import nn as wnn
    self.encoder = wnn.DWEEncoder(embed_dim=self.embedding_dim)
    self.decoder = wnn.DWEDecoder(image_shape=tuple(self.image_shape))

  def embed(self, x: jax.Array) -> jax.Array:
    """``phi``: ``[b, H, W, 1] -> [b, p]``."""
    return self.encoder(x)

  def decode(self, z: jax.Array) -> jax.Array:
    """``psi``: ``[b, p] -> [b, H, W, 1]`` histograms."""
    return self.decoder(z)

  def __call__(self, x1: jax.Array, x2: jax.Array, train: bool = False
               ) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Returns ``(||phi(x1) - phi(x2)||^2 [b], psi(phi(x1)), psi(phi(x2)))``.

    ``train`` is accepted for the harness (``create_train_state``); DWE has no dropout.
    """
    del train
    z1, z2 = self.embed(x1), self.embed(x2)
    return squared_distance(z1, z2), self.decode(z1), self.decode(z2)


def make_loss_fn(model: DWE, weights: DWELossWeights = DWELossWeights()) -> Callable:
  """DWE loss in the harness's signature ``loss_fn(params, batch_stats, batch, rng)``.

  ``batch`` is a dict with ``x1``, ``x2`` (``[b, H, W, 1]`` histograms) and ``w2`` (``[b]``).
  """

  def loss_fn(params, batch_stats, batch, rng):
    del rng  # DWE is deterministic
    pred, r1, r2 = model.apply({"params": params}, batch["x1"], batch["x2"])
    loss, metrics = dwe_loss(pred, batch["w2"], batch["x1"], batch["x2"], r1, r2, weights)
    return loss, (metrics, batch_stats)

  return loss_fn


def make_train_step(model: DWE, weights: DWELossWeights = DWELossWeights()) -> Callable:
  """Jitted ``step(state, batch, rng) -> (state, metrics)`` built with ``wassml.train.make_step``."""
  from wassml import train as wtrain
  return jax.jit(wtrain.make_step(make_loss_fn(model, weights)))


def make_eval_step(model: DWE, weights: DWELossWeights = DWELossWeights()) -> Callable:
  """Jitted ``eval_step(params, batch) -> (pred [b], metrics)`` (no update)."""

  @jax.jit
  def eval_step(params, batch):
    pred, r1, r2 = model.apply({"params": params}, batch["x1"], batch["x2"])
    _, metrics = dwe_loss(pred, batch["w2"], batch["x1"], batch["x2"], r1, r2, weights)
    return pred, metrics

  return eval_step


@dataclasses.dataclass(frozen=True)
class Embedder:
  """A trained DWE bound to its parameters, as the two functions the embedding operations use.

  Attributes:
    encode: ``[n, H, W, 1]`` histograms ``-> [n, p]`` embeddings (jitted).
    decode: ``[n, p] -> [n, H, W, 1]`` histograms (jitted).
    image_shape: ``(H, W)``.
  """
  encode: Callable[[ArrayLike], jax.Array]
  decode: Callable[[ArrayLike], jax.Array]
  image_shape: tuple[int, int]


def embedder(model: DWE, params: Any) -> Embedder:
  """Binds a :class:`DWE` and its params into an :class:`Embedder`."""
  enc = jax.jit(lambda x: model.apply({"params": params}, x, method=DWE.embed))
  dec = jax.jit(lambda z: model.apply({"params": params}, z, method=DWE.decode))
  return Embedder(encode=enc, decode=dec, image_shape=tuple(model.image_shape))


def as_model_input(images: ArrayLike) -> jax.Array:
  """Images ``[n, H, W(, 1)]`` to the model's input: histograms ``[n, H, W, 1]`` (validated)."""
  from wassml.embedding.pairs import image_shape, to_histograms
  h, w = image_shape(images)
  return to_histograms(images).reshape(-1, h, w, 1)


__all__ = [
    "DWE", "DWELossWeights", "Embedder", "as_model_input", "dwe_loss", "embedder",
    "kl_reconstruction", "make_eval_step", "make_loss_fn", "make_train_step", "regression_scores",
    "sparsity_penalty", "squared_distance",
]
