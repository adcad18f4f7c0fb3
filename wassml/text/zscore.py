"""The z-score baseline of textual data analysis (thesis §12.5).

For a class ``k`` (sub-corpus of ``n_k`` tokens) and a word ``w`` seen ``f`` times in it, with
``p`` the word's relative frequency in the whole corpus, the z-score (Lafon's "écart réduit",
Hyperbase's specificity) is the binomial standardisation

    z = (f - n p) / sqrt(n p (1 - p)).

A word with ``p = 0`` (never seen) or ``p = 1`` (the only word) has z-score 0. The z-score
classifier gives a window the class whose summed word z-scores is the largest.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from wassml.text.vocab import PAD_ID
from wassml.utils import linalg


def class_word_counts(ids: ArrayLike, mask: ArrayLike, labels: ArrayLike, *,
                      num_classes: int, vocab_size: int) -> jax.Array:
  """Counts each word in each class.

  Args:
    ids: ``[N, L]`` token ids.
    mask: ``[N, L]`` bool, ``True`` on real tokens (padding is not counted).
    labels: ``[N]`` class of each window.
    num_classes: ``K``.
    vocab_size: ``V``.

  Returns:
    ``[K, V]`` float32 counts.
  """
  ids = np.asarray(ids)
  labels = np.asarray(labels).reshape(-1)
  if ids.ndim != 2 or ids.shape[0] != labels.size or np.shape(mask) != ids.shape:
    raise ValueError(f"expected ids [N, L], mask [N, L], labels [N]; got {ids.shape}, "
                     f"{np.shape(mask)}, {labels.shape}")
  if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
    raise ValueError(f"labels must lie in [0, {num_classes}), got range "
                     f"[{labels.min()}, {labels.max()}]")
  if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
    raise ValueError(f"token ids must lie in [0, {vocab_size}), got range "
                     f"[{ids.min()}, {ids.max()}]")
  return _counts(jnp.asarray(ids), jnp.asarray(mask, jnp.float32), jnp.asarray(labels),
                 num_classes=num_classes, vocab_size=vocab_size)


def _counts_impl(ids, mask, labels, num_classes, vocab_size):
  rows = jnp.broadcast_to(labels[:, None], ids.shape)
  return jnp.zeros((num_classes, vocab_size), jnp.float32).at[rows, ids].add(mask)


_counts = jax.jit(_counts_impl, static_argnames=("num_classes", "vocab_size"))


def zscores(counts: ArrayLike) -> jax.Array:
  """Z-scores of every word in every class.

  Args:
    counts: ``[K, V]`` word counts per class (:func:`class_word_counts`).

  Returns:
    ``[K, V]`` float32 z-scores ``(f - n p) / sqrt(n p (1 - p))``; 0 where ``p`` is 0 or 1.

  Raises:
    ValueError: a class with no tokens (no examples), named by index.
  """
  counts_np = np.asarray(counts)
  if counts_np.ndim != 2:
    raise ValueError(f"counts must be [K, V], got shape {counts_np.shape}")
  if np.any(counts_np < 0):
    raise ValueError("counts must be non-negative")
  n = counts_np.sum(axis=1)
  empty = np.flatnonzero(n == 0)
  if empty.size:
    raise ValueError(f"class(es) {empty.tolist()} have no examples (no tokens); z-scores need "
                     "every class to be present in the training corpus")
  return _zscores(jnp.asarray(counts, jnp.float32))


@jax.jit
def _zscores(counts):
  n = counts.sum(axis=1, keepdims=True)          # [K, 1]
  p = counts.sum(axis=0, keepdims=True) / counts.sum()  # [1, V]
  var = n * p * (1.0 - p)
  ok = var > 0
  return jnp.where(ok, (counts - n * p) / jnp.sqrt(jnp.where(ok, var, 1.0)), 0.0)


@jax.jit
def zscore_logits(ids: ArrayLike, mask: ArrayLike, z: ArrayLike) -> jax.Array:
  """The z-score classifier's scores: the sum of the window's word z-scores for each class.

  Args:
    ids: ``[N, L]`` token ids.
    mask: ``[N, L]`` bool, ``True`` on real tokens.
    z: ``[K, V]`` z-scores.

  Returns:
    ``[N, K]`` summed z-scores; ``argmax`` over the last axis is the prediction.
  """
  per_word = jnp.take(jnp.asarray(z), jnp.asarray(ids), axis=1)  # [K, N, L]
  return linalg.einsum("knl,nl->nk", per_word, jnp.asarray(mask, per_word.dtype))


@jax.jit
def word_zscores(ids: ArrayLike, mask: ArrayLike, z: ArrayLike, cls: ArrayLike) -> jax.Array:
  """The z-score of each word of each window for one class per window.

  Args:
    ids: ``[N, L]`` token ids.
    mask: ``[N, L]`` bool.
    z: ``[K, V]`` z-scores.
    cls: ``[N]`` class to read for each window (e.g. the predicted one).

  Returns:
    ``[N, L]`` z-scores, 0 on padding.
  """
  zc = jnp.asarray(z)[jnp.asarray(cls)]                         # [N, V]
  vals = jnp.take_along_axis(zc, jnp.asarray(ids), axis=1)      # [N, L]
  return jnp.where(jnp.asarray(mask) & (jnp.asarray(ids) != PAD_ID), vals, 0.0)


class ZScoreClassifier:
  """The z-score classifier: fit word z-scores on training windows, predict by summed z-score.

  Attributes:
    z: ``[K, V]`` z-scores after :meth:`fit`.
  """

  def __init__(self, num_classes: int, vocab_size: int):
    self.num_classes = num_classes
    self.vocab_size = vocab_size
    self.z = None

  def fit(self, ids: ArrayLike, mask: ArrayLike, labels: ArrayLike) -> "ZScoreClassifier":
    counts = class_word_counts(ids, mask, labels, num_classes=self.num_classes,
                               vocab_size=self.vocab_size)
    self.z = zscores(counts)
    return self

  def decision_function(self, ids: ArrayLike, mask: ArrayLike) -> jax.Array:
    if self.z is None:
      raise ValueError("ZScoreClassifier is not fitted; call fit() first")
    return zscore_logits(ids, mask, self.z)

  def predict(self, ids: ArrayLike, mask: ArrayLike) -> jax.Array:
    return jnp.argmax(self.decision_function(ids, mask), axis=-1)
