"""ARWGAN: a WGAN-GP whose real distribution is reweighted towards a classifier's mistakes.

Burnel et al. (2020, 2021), seed 004: replace the empirical data distribution
``(1/n) sum_i delta_{x_i}`` of one class by ``sum_i a_i delta_{x_i}`` with ``sum_i a_i = 1``
putting more mass on the samples the classifier gets wrong, then fit a WGAN-GP to it. The
generator learns natural-looking data (it imitates real samples) that the classifier tends to
misclassify, using **only the classifier's outputs** (no gradient of the classifier).

* hard weights: ``a_i ∝ 1[argmax f(x_i) != y_i]`` (misclassified samples only);
* soft weights: ``a_i ∝ exp(-m_i / T)`` with the margin ``m_i = log f_y(x_i) - max_{j != y}
  log f_j(x_i)`` (negative when misclassified): the more misclassified, the heavier.

The WGAN-GP steps are :mod:`wassml.generative.wgan` (critic: :func:`wassml.ot.critic_loss`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

WEIGHTINGS = ("uniform", "hard", "soft")


def classification_margin(logits: ArrayLike, labels: ArrayLike) -> jax.Array:
  """``m_i = log p_{y_i}(x_i) - max_{j != y_i} log p_j(x_i)`` (``< 0`` iff misclassified).

  Args:
    logits: ``[N, K]``.
    labels: ``[N]`` integer labels.

  Returns:
    ``[N]`` margins.
  """
  logp = jax.nn.log_softmax(jnp.asarray(logits), -1)
  labels = jnp.asarray(labels).astype(jnp.int32)
  own = jnp.take_along_axis(logp, labels[:, None], axis=-1)[:, 0]
  others = jnp.where(jax.nn.one_hot(labels, logp.shape[-1], dtype=bool), -jnp.inf, logp)
  return own - jnp.max(others, axis=-1)


def misclassification_weights(logits: ArrayLike, labels: ArrayLike, *, kind: str = "hard",
                              temperature: float = 1.0) -> jax.Array:
  """ARWGAN's sample weights ``a: [N]`` (non-negative, summing to one).

  Args:
    logits: ``[N, K]`` classifier outputs on the real samples.
    labels: ``[N]`` their labels.
    kind: ``"hard"`` (misclassified only), ``"soft"`` (by margin) or ``"uniform"`` (plain WGAN).
    temperature: ``T > 0`` of the soft weights.

  Returns:
    ``[N]`` weights.

  Raises:
    ValueError: unknown ``kind``, bad shapes, non-positive temperature, or ``kind="hard"`` when the
      classifier makes no mistake on these samples.
  """
  if kind not in WEIGHTINGS:
    raise ValueError(f"unknown weighting {kind!r}; valid: {', '.join(WEIGHTINGS)}.")
  logits = jnp.asarray(logits)
  labels = jnp.asarray(labels)
  if logits.ndim != 2 or labels.shape != logits.shape[:1]:
    raise ValueError(f"logits must be [N, K] and labels [N], got {logits.shape} and "
                     f"{labels.shape}.")
  n = logits.shape[0]
  if kind == "uniform":
    return jnp.full((n,), 1.0 / n)
  margin = classification_margin(logits, labels)
  if kind == "hard":
    wrong = (margin < 0).astype(jnp.float32)
    if not isinstance(wrong, jax.core.Tracer) and float(wrong.sum()) == 0:
      raise ValueError("hard ARWGAN weights: the classifier misclassifies none of these samples; "
                       "use kind='soft' or more data.")
    return wrong / jnp.sum(wrong)
  if not temperature > 0:
    raise ValueError(f"temperature must be > 0, got {temperature}.")
  return jax.nn.softmax(-margin / temperature)


def effective_sample_size(weights: ArrayLike) -> float:
  """``1 / sum a_i^2`` for normalised weights: how many samples the reweighted data really has."""
  w = np.asarray(weights, np.float64)
  w = w / w.sum()
  return float(1.0 / np.sum(w ** 2))


def weighted_batches(rng: jax.Array, weights: ArrayLike, *, batch_size: int,
                     num_batches: int) -> jax.Array:
  """Indices ``[num_batches, batch_size]`` drawn i.i.d. from ``sum_i a_i delta_i``.

  Sampling by the weights (with replacement) gives minibatches of the reweighted distribution
  with uniform weights inside the batch, the lower-variance alternative to passing ``a`` as
  ``real_weights`` to :func:`wassml.ot.critic_loss` on uniformly drawn batches.
  """
  w = jnp.asarray(weights)
  return jax.random.choice(rng, w.shape[0], (num_batches, batch_size), replace=True, p=w / w.sum())


def misclassified_fraction(logits: ArrayLike, target_class: int) -> jax.Array:
  """Fraction of samples (e.g. generated ones of class ``target_class``) not predicted as it."""
  return jnp.mean(jnp.argmax(jnp.asarray(logits), -1) != target_class)
