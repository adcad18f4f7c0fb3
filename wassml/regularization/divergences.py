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

from wassml.utils import checks as uc

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


def _label_ot(p, logits, *, cost, epsilon, num_iters, mode):
  from wassml import ot  # Imported lazily: the OT core is a sibling package.
  q = jax.nn.softmax(logits, axis=-1)
  return ot.label_ot(p, q, cost, epsilon=epsilon, num_iters=num_iters, mode=mode)


def _label_sinkhorn_divergence(p, logits, *, cost, epsilon, num_iters, mode):
  from wassml.ot.sinkhorn import sinkhorn  # Lazy, as above.
  q = jax.nn.softmax(logits, axis=-1)

  def objective(a, b):
    return sinkhorn(cost, a, b, epsilon=epsilon, num_iters=num_iters, mode=mode,
                    grad_mode="unroll").objective

  one = lambda a, b: objective(a, b) - 0.5 * (objective(a, a) + objective(b, b))
  return jax.vmap(one)(p, q)


def label_ot_divergence(
    cost: ArrayLike, *, epsilon: float = 0.05, num_iters: int = 20,
    debiased: bool = False, mode: str = "auto") -> Divergence:
  """WAR's divergence ``OT^eps_C(p, softmax(logits))`` (``wassml.ot.label_ot``), per row.

  ``debiased=False`` (the paper and its reference code): the transport cost ``<P_eps, C>`` of
  the Sinkhorn plan. It is **not** zero at ``q = p`` for a non-confident ``p`` (the entropic plan
  spreads mass off the diagonal wherever ``C_ij`` is comparable to ``eps``) and its gradient there
  does not vanish, so WAR's power iteration returns that first-order gradient rather than the
  curvature direction VAT finds with KL.

  ``debiased=True``: the Sinkhorn divergence on the label simplex,
  ``S(p, q) = OT(p, q) - (OT(p, p) + OT(q, q)) / 2`` with the entropic objective
  ``OT = <P, C> + eps KL(P | p q^T)`` (Feydy et al., 2019): ``S(p, p) = 0``, ``S >= 0``, and its
  gradient vanishes at ``q = p`` like KL's. Three Sinkhorn solves instead of one.

  Args:
    cost: ``[K, K]`` class ground cost (validated: non-negative, zero diagonal).
    epsilon: entropic regularisation (reference code: 0.05).
    num_iters: Sinkhorn iterations (reference code: 20).
    debiased: use the debiased Sinkhorn divergence (see above).
    mode: Sinkhorn domain, ``"auto"``, ``"kernel"`` or ``"log"`` (see
      :func:`wassml.ot.label_ot`). Pass ``"kernel"`` inside a training loop whose cost is
      traced but bounded (every :mod:`wassml.regularization.ground_cost` cost lies in
      ``[0, 1]``, so ``"kernel"`` is safe in float32 for ``epsilon > 0.02``): it is about 10x
      faster than the log domain on ``K x K`` problems.

  Returns:
    A divergence ``(p [B, K], logits [B, K]) -> [B]``.
  """
  uc.check_ground_cost(cost)
  cost = jnp.asarray(cost, dtype=jnp.result_type(float))
  if not epsilon > 0:
    raise ValueError(f"epsilon must be > 0, got {epsilon}.")
  if int(num_iters) != num_iters or num_iters < 1:
    raise ValueError(f"num_iters must be a positive integer, got {num_iters!r}.")
  from wassml.ot.sinkhorn import MODES  # Lazy, as above.
  if mode not in MODES:
    raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
  fn = _label_sinkhorn_divergence if debiased else _label_ot
  return functools.partial(fn, cost=cost, epsilon=float(epsilon), num_iters=int(num_iters),
                           mode=mode)
