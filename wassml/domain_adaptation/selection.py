"""Model selection without target labels: source-validation accuracy, reverse validation, or the
last checkpoint of a fixed training length."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from wassml.utils import linalg

SELECTION_RULES = ("source_val", "reverse_val", "last")


@jax.jit
def reverse_validation_score(
    features_t: ArrayLike,
    logits_t: ArrayLike,
    features_s_val: ArrayLike,
    labels_s_val: ArrayLike,
) -> jax.Array:
  """A cheap reverse-validation score (Zhong et al., 2010; Ganin et al., 2016), no target labels.

  The target set is pseudo-labelled with the model's predictions; a *reverse* classifier (nearest
  class mean in the embedding space) is fitted on the pseudo-labelled target embeddings and scored
  on the labelled source validation embeddings. A model whose target predictions are consistent
  with the source labels scores high.

  Args:
    features_t: [m, d] target embeddings.
    logits_t: [m, K] target logits (pseudo-labels = argmax).
    features_s_val: [v, d] source-validation embeddings.
    labels_s_val: [v] int source-validation labels.

  Returns:
    Scalar accuracy in [0, 1] of the reverse classifier on the source validation set.
  """
  ft = jnp.asarray(features_t)
  logits_t = jnp.asarray(logits_t)
  k = logits_t.shape[-1]
  onehot = jax.nn.one_hot(jnp.argmax(logits_t, -1), k, dtype=ft.dtype)   # [m, K]
  counts = jnp.sum(onehot, 0)                                             # [K]
  means = linalg.matmul(onehot.T, ft) / jnp.maximum(counts, 1.0)[:, None]             # [K, d]
  fs = jnp.asarray(features_s_val)
  d2 = jnp.sum((fs[:, None, :] - means[None]) ** 2, -1)                   # [v, K]
  d2 = jnp.where(counts[None] > 0, d2, jnp.inf)   # classes never predicted cannot be chosen
  pred = jnp.argmin(d2, -1)
  return jnp.mean(pred == jnp.asarray(labels_s_val))


def select_index(history: dict, rule: str = "source_val") -> int:
  """Index of the selected checkpoint in an evaluation history, using no target labels.

  Args:
    history: dict of equal-length lists; needs ``'source_val_acc'`` or ``'reverse_val'`` (or, for
      ``'last'``, ``'step'``).
    rule: ``'source_val'`` (best source-validation accuracy), ``'reverse_val'`` (best
      reverse-validation score) or ``'last'`` (the last evaluation: a fixed training length,
      decided before the run). Ties go to the later evaluation.

  Returns:
    The selected index.
  """
  key = {"source_val": "source_val_acc", "reverse_val": "reverse_val", "last": "step"}.get(rule)
  if key is None:
    raise ValueError(f"unknown selection rule {rule!r}; valid names: {', '.join(SELECTION_RULES)}.")
  values = list(history[key])
  if rule == "last":
    if not values:
      raise ValueError("empty evaluation history: nothing to select.")
    return len(values) - 1
  if not values:
    raise ValueError("empty evaluation history: nothing to select.")
  best = max(values)
  return max(i for i, v in enumerate(values) if v == best)
