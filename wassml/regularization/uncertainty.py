"""Prediction with uncertainty: the two-head model ``F(x) = U(A(x), B(x))`` (seed 000).

Two classification heads ``A`` and ``B`` share a trunk; the prediction is the random mixture
``t A(x) + (1 - t) B(x)`` with ``t ~ U(0, 1)``, trained with

    min -1/(N M) sum_i sum_j y_i^T log(t_ij A(x_i) + (1 - t_ij) B(x_i)),   t_ij ~ U(0, 1).

The loss is small for *every* ``t`` only if both heads are right, so on the training
distribution they agree; away from it nothing ties them together. Their spread (here the total
variation ``(1/2)||A(x) - B(x)||_1``, i.e. the largest change of the prediction over ``t``) is the
uncertainty score. Baselines: the softmax entropy and MC-dropout.
"""

from __future__ import annotations

from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import scipy.stats
from jax.typing import ArrayLike


class TwoHeadClassifier(nn.Module):
  """``x -> (logits_A [B, K], logits_B [B, K])``: a shared trunk and two linear heads.

  Attributes:
    trunk: a module mapping ``x`` to features ``[B, d]`` (e.g. ``wassml.nn.MLP(num_outputs=None)``).
    num_classes: ``K``.
  """

  trunk: nn.Module
  num_classes: int

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> tuple[jax.Array, jax.Array]:
    h = self.trunk(x, train=train)
    return nn.Dense(self.num_classes, name="head_a")(h), nn.Dense(self.num_classes,
                                                                  name="head_b")(h)


def two_head_loss(rng: jax.Array, logits_a: ArrayLike, logits_b: ArrayLike, labels: ArrayLike,
                  *, num_t: int = 8) -> jax.Array:
  """The mixture cross-entropy, averaged over ``num_t`` draws ``t ~ U(0, 1)`` per example.

  Args:
    rng: key for ``t``.
    logits_a: ``[B, K]`` logits of head ``A``.
    logits_b: ``[B, K]`` logits of head ``B``.
    labels: ``[B]`` integer labels.
    num_t: ``M``, draws of ``t`` per example.

  Returns:
    Scalar loss.
  """
  la = jax.nn.log_softmax(jnp.asarray(logits_a), -1)
  lb = jax.nn.log_softmax(jnp.asarray(logits_b), -1)
  y = jnp.asarray(labels).astype(jnp.int32)[:, None]
  la_y = jnp.take_along_axis(la, y, -1)  # [B, 1]
  lb_y = jnp.take_along_axis(lb, y, -1)
  t = jax.random.uniform(rng, (la.shape[0], num_t), minval=1e-6, maxval=1.0 - 1e-6)
  # log(t a_y + (1 - t) b_y), stably.
  log_mix = jnp.logaddexp(jnp.log(t) + la_y, jnp.log1p(-t) + lb_y)
  return -jnp.mean(log_mix)


def head_spread(logits_a: ArrayLike, logits_b: ArrayLike) -> jax.Array:
  """Uncertainty score ``(1/2) ||softmax(A) - softmax(B)||_1`` per example, ``[B]`` in [0, 1]."""
  pa = jax.nn.softmax(jnp.asarray(logits_a), -1)
  pb = jax.nn.softmax(jnp.asarray(logits_b), -1)
  return 0.5 * jnp.sum(jnp.abs(pa - pb), -1)


def mixture_probs(logits_a: ArrayLike, logits_b: ArrayLike, t: float = 0.5) -> jax.Array:
  """The prediction ``t A(x) + (1 - t) B(x)``, ``[B, K]``."""
  return t * jax.nn.softmax(jnp.asarray(logits_a), -1) + (1 - t) * jax.nn.softmax(
      jnp.asarray(logits_b), -1)


def entropy(probs: ArrayLike) -> jax.Array:
  """Shannon entropy (nats) of each row of ``probs: [B, K]``."""
  p = jnp.asarray(probs)
  return -jnp.sum(jnp.where(p > 0, p * jnp.log(jnp.where(p > 0, p, 1.0)), 0.0), -1)


def mc_dropout_probs(rng: jax.Array, apply_fn: Callable[..., jax.Array], variables, x: ArrayLike,
                     *, num_samples: int = 20) -> jax.Array:
  """Softmax outputs of ``num_samples`` dropout-on passes: ``[num_samples, B, K]``.

  ``apply_fn(variables, x, train=True, rngs={"dropout": key}) -> logits``. The MC-dropout score is
  the entropy of their mean (:func:`entropy`).
  """
  keys = jax.random.split(rng, num_samples)
  return jax.vmap(lambda k: jax.nn.softmax(
      apply_fn(variables, x, train=True, rngs={"dropout": k}), -1))(keys)


def auroc(scores_in: ArrayLike, scores_out: ArrayLike) -> float:
  """Area under the ROC curve for telling ``out`` (positives, higher score) from ``in``.

  The Mann-Whitney statistic ``P(s_out > s_in) + P(s_out = s_in) / 2``.
  """
  si = np.asarray(scores_in, np.float64).ravel()
  so = np.asarray(scores_out, np.float64).ravel()
  if si.size == 0 or so.size == 0:
    raise ValueError("auroc needs at least one in- and one out-of-distribution score.")
  ranks = scipy.stats.rankdata(np.concatenate([si, so]))  # average ranks over ties
  u = ranks[si.size:].sum() - so.size * (so.size + 1) / 2.0
  return float(u / (si.size * so.size))
