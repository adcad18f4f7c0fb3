"""Divergences between a target class distribution and a prediction, for adversarial training.

A *divergence* here is a callable ``divergence(p, logits) -> [B]`` where ``p: [B, K]`` is the
(fixed) target distribution -- the model's own prediction ``f̂(x)`` with stopped gradient -- and
``logits: [B, K]`` are the model's logits at the perturbed input ``x + r``. The adversarial
direction routine (:mod:`wassml.regularization.adversarial`) is parametrised by it:

* :func:`kl_divergence` gives VAT (Miyato et al., 2018);
* :func:`label_ot_divergence` gives WAR (Fatras et al., 2021): entropic label OT
  ``OT^eps_C(p, softmax(logits))`` with a class ground cost ``C`` (``wassml.ot.label_ot``).
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from wassml.regularization import ground_cost as _gc

Divergence = Callable[[jax.Array, jax.Array], jax.Array]


def kl_divergence(p: ArrayLike, logits: ArrayLike) -> jax.Array:
  """``KL(p || softmax(logits))`` per row.

  Args:
    p: ``[B, K]`` target probabilities (rows sum to one).
    logits: ``[B, K]`` logits of the prediction.

  Returns:
    ``[B]`` divergences (``0 log 0 = 0``).
  """
  p = jnp.asarray(p)
  log_q = jax.nn.log_softmax(logits, axis=-1)
  log_p = jnp.log(jnp.where(p > 0, p, 1.0))
  return jnp.sum(jnp.where(p > 0, p * (log_p - log_q), 0.0), axis=-1)


def _label_ot(p, logits, *, cost, epsilon, num_iters):
  from wassml import ot  # Imported lazily: the OT core is a sibling package.
  q = jax.nn.softmax(logits, axis=-1)
  return ot.label_ot(p, q, cost, epsilon=epsilon, num_iters=num_iters)


def label_ot_divergence(
    cost: ArrayLike, *, epsilon: float = 0.05, num_iters: int = 20) -> Divergence:
  """WAR's divergence ``OT^eps_C(p, softmax(logits))`` (``wassml.ot.label_ot``), per row.

  Args:
    cost: ``[K, K]`` class ground cost (validated: non-negative, zero diagonal).
    epsilon: entropic regularisation (reference code: 0.05).
    num_iters: Sinkhorn iterations (reference code: 20).

  Returns:
    A divergence ``(p [B, K], logits [B, K]) -> [B]``.
  """
  cost = _gc.validate_ground_cost(cost)
  if not epsilon > 0:
    raise ValueError(f"epsilon must be > 0, got {epsilon}.")
  if int(num_iters) != num_iters or num_iters < 1:
    raise ValueError(f"num_iters must be a positive integer, got {num_iters!r}.")
  return functools.partial(_label_ot, cost=cost, epsilon=float(epsilon), num_iters=int(num_iters))
