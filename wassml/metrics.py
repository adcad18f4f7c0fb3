"""Evaluation metrics: classification accuracy and clustering scores.

Clustering accuracy follows the deep-clustering convention (DEC, VaDE, WAMiC): clusters are matched
to labels by the Hungarian algorithm on the contingency table, then the matched accuracy is
reported. NMI and ARI are permutation-invariant and need no matching.
"""

from __future__ import annotations

import numpy as np
import scipy.optimize
from jax.typing import ArrayLike


def _as_labels(name: str, values: ArrayLike) -> np.ndarray:
  arr = np.asarray(values)
  if arr.ndim != 1:
    raise ValueError(f"{name} must be a 1-D array of integer labels, got shape {arr.shape}.")
  if arr.size == 0:
    raise ValueError(f"{name} is empty.")
  if not np.issubdtype(arr.dtype, np.integer):
    if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
      raise ValueError(f"{name} must hold integer labels, got dtype {arr.dtype}.")
    arr = arr.astype(np.int64)
  if arr.min() < 0:
    raise ValueError(f"{name} must hold non-negative labels, got min {arr.min()}.")
  return arr


def _check_pair(labels: ArrayLike, predictions: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
  y = _as_labels("labels", labels)
  p = _as_labels("predictions", predictions)
  if y.shape != p.shape:
    raise ValueError(f"labels {y.shape} and predictions {p.shape} must have the same shape.")
  return y, p


def contingency(labels: ArrayLike, predictions: ArrayLike) -> np.ndarray:
  """Counts table ``[num_clusters, num_classes]`` with ``T[k, c] = #{i: pred_i = k, y_i = c}``."""
  y, p = _check_pair(labels, predictions)
  table = np.zeros((p.max() + 1, y.max() + 1), dtype=np.int64)
  np.add.at(table, (p, y), 1)
  return table


def cluster_accuracy(labels: ArrayLike, predictions: ArrayLike) -> float:
  """Hungarian-matched clustering accuracy.

  ``acc = max_m (1/N) sum_i 1[y_i = m(p_i)]`` over one-to-one maps ``m`` from clusters to classes
  (clusters beyond the number of classes are matched to nothing and count as errors).

  Args:
    labels: ``[N]`` ground-truth class labels.
    predictions: ``[N]`` cluster indices.

  Returns:
    The matched accuracy in ``[0, 1]``.
  """
  table = contingency(labels, predictions)
  rows, cols = scipy.optimize.linear_sum_assignment(-table)
  return float(table[rows, cols].sum() / table.sum())


def _entropy(counts: np.ndarray) -> float:
  p = counts[counts > 0] / counts.sum()
  return float(-(p * np.log(p)).sum())


def nmi(labels: ArrayLike, predictions: ArrayLike) -> float:
  """Normalised mutual information, arithmetic normalisation ``2 I / (H(y) + H(p))``.

  This is scikit-learn's default (``average_method="arithmetic"``).
  """
  table = contingency(labels, predictions).astype(np.float64)
  n = table.sum()
  h_p, h_y = _entropy(table.sum(1)), _entropy(table.sum(0))
  nz = table > 0
  outer = np.outer(table.sum(1), table.sum(0))
  mi = float((table[nz] / n * np.log(table[nz] * n / outer[nz])).sum())
  denom = 0.5 * (h_p + h_y)
  if denom == 0.0:
    return 1.0
  return max(0.0, mi / denom)


def ari(labels: ArrayLike, predictions: ArrayLike) -> float:
  """Adjusted Rand index (Hubert and Arabie, 1985)."""
  table = contingency(labels, predictions).astype(np.float64)
  comb2 = lambda v: v * (v - 1.0) / 2.0
  n = table.sum()
  sum_ij = comb2(table).sum()
  sum_a, sum_b = comb2(table.sum(1)).sum(), comb2(table.sum(0)).sum()
  expected = sum_a * sum_b / comb2(n)
  max_index = 0.5 * (sum_a + sum_b)
  if max_index == expected:
    return 1.0
  return float((sum_ij - expected) / (max_index - expected))


def accuracy(labels: ArrayLike, logits_or_predictions: ArrayLike) -> float:
  """Classification accuracy from ``[N]`` predictions or ``[N, K]`` logits/probabilities."""
  y = _as_labels("labels", labels)
  pred = np.asarray(logits_or_predictions)
  if pred.ndim == 2:
    pred = pred.argmax(-1)
  if pred.shape != y.shape:
    raise ValueError(f"labels {y.shape} and predictions {pred.shape} do not match.")
  return float((pred == y).mean())
