"""The joint-distribution OT term of DeepJDOT/JUMBOT with the plan held fixed."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from wassml.domain_adaptation.joint_cost import joint_cost
from wassml.domain_adaptation.solvers import Solver


class JointOTOutput(NamedTuple):
  """Output of :func:`joint_ot_loss`.

  Attributes:
    loss: scalar ``sum_ij P_ij C_ij`` (gradient flows through ``C`` only).
    plan: [n, m] the minibatch plan ``P`` (no gradient).
    cost: [n, m] the joint cost ``C`` (differentiable).
  """

  loss: jax.Array
  plan: jax.Array
  cost: jax.Array


def joint_ot_loss(
    features_s: ArrayLike,
    labels_s: ArrayLike,
    features_t: ArrayLike,
    logits_t: ArrayLike,
    *,
    solver: Solver,
    eta1: float,
    eta2: float,
) -> JointOTOutput:
  """One DeepJDOT/JUMBOT coupling step on a source/target minibatch pair.

  The plan is solved on ``stop_gradient(C)`` with uniform weights and held fixed, so the loss
  ``sum_ij P_ij C_ij`` back-propagates only through the cost (both in the embeddings ``g`` and in
  the target predictions ``f(g(x^t))``). Everything stays on device and is jittable (for exact
  OT, with ``n == m``: ``wassml.ot.emd``'s auction; ``n != m`` uses its host LP).

  Args:
    features_s: [n, d] source embeddings.
    labels_s: [n] int source labels.
    features_t: [m, d] target embeddings.
    logits_t: [m, K] target logits.
    solver: ``solver(cost, a, b) -> OTResult``, see :func:`make_solver`.
    eta1: embedding-cost weight.
    eta2: label-cost weight.

  Returns:
    A :class:`JointOTOutput`.
  """
  cost = joint_cost(features_s, labels_s, features_t, logits_t, eta1=eta1, eta2=eta2)
  # a = b = None: uniform weights, so that wassml.ot.emd takes its JAX-native auction path on
  # square (n == m) minibatches (a rectangular exact problem falls back to the host LP).
  plan = jax.lax.stop_gradient(solver(jax.lax.stop_gradient(cost), None, None).plan)
  return JointOTOutput(loss=jnp.sum(plan * cost), plan=plan, cost=cost)
