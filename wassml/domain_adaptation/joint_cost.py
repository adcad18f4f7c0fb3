"""The DeepJDOT/JUMBOT joint-distribution ground cost between a source and a target minibatch.

``C_ij = eta1 ||g(x_i^s) - g(x_j^t)||^2 + eta2 L(y_i^s, f(g(x_j^t)))`` where ``g`` is the
embedding, ``f`` the classifier head and ``L`` the cross-entropy of the source label ``y_i^s``
under the target prediction ``f(g(x_j^t))`` (Damodaran et al., 2018; Fatras et al., 2021).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from wassml import ot as wot
from wassml.utils import checks as uc


def _check_joint_inputs(features_s, labels_s, features_t, logits_t) -> None:
  """Shape checks of the joint cost (all static, so they also run under jit), then the
  label range (concrete labels only)."""
  fs, ft, lt = jnp.shape(features_s), jnp.shape(features_t), jnp.shape(logits_t)
  if len(fs) != 2 or len(ft) != 2:
    raise ValueError(f"features must be [n, d] and [m, d]; got {fs} and {ft}.")
  if fs[1] != ft[1]:
    raise ValueError(f"source and target embeddings have different widths: {fs} vs {ft}.")
  if len(lt) != 2 or lt[0] != ft[0]:
    raise ValueError(f"target logits must be [m, K] with m = {ft[0]}; got {lt}.")
  if jnp.shape(labels_s) != (fs[0],):
    raise ValueError(f"source labels must be [n] with n = {fs[0]}; got {jnp.shape(labels_s)}.")
  uc.check_labels(labels_s, lt[1], "source labels")


def label_cost(labels_s: ArrayLike, logits_t: ArrayLike) -> jax.Array:
  """Cross-entropy of every source label under every target prediction.

  Args:
    labels_s: [n] int source labels in ``[0, K)``.
    logits_t: [m, K] classifier logits on the target minibatch.

  Returns:
    [n, m] matrix ``L_ij = -log softmax(logits_t)_{j, y_i}``.
  """
  log_probs = jax.nn.log_softmax(jnp.asarray(logits_t), axis=-1)  # [m, K]
  return -jnp.take(log_probs, jnp.asarray(labels_s), axis=1).T      # [n, m]


def joint_cost(
    features_s: ArrayLike,
    labels_s: ArrayLike,
    features_t: ArrayLike,
    logits_t: ArrayLike,
    *,
    eta1: float,
    eta2: float,
) -> jax.Array:
  """The joint (embedding, label) ground cost of DeepJDOT/JUMBOT.

  Args:
    features_s: [n, d] source embeddings ``g(x^s)``.
    labels_s: [n] int source labels.
    features_t: [m, d] target embeddings ``g(x^t)``.
    logits_t: [m, K] target logits ``f(g(x^t))``.
    eta1: weight of the squared Euclidean embedding term.
    eta2: weight of the label (cross-entropy) term.

  Returns:
    [n, m] cost matrix.

  Raises:
    ValueError: on mismatched shapes, or labels outside the classifier's ``K`` classes.
  """
  _check_joint_inputs(features_s, labels_s, features_t, logits_t)
  embed = wot.sqeuclidean(features_s, features_t)
  return eta1 * embed + eta2 * label_cost(labels_s, logits_t)
