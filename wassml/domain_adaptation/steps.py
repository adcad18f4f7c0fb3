"""Pure training steps of the DA family: source-only, DANN and the joint-OT step.

Every method is ``step(state, batch, rng) -> (state, metrics)`` built by ``wassml.train.make_step``
from a loss of the same shape, so baselines and OT methods share one harness. ``batch`` is a dict:

* ``'xs'``: [n, ...] source inputs, ``'ys'``: [n] int source labels,
* ``'xt'``: [m, ...] target inputs (unlabelled),
* ``'grl_scale'`` (DANN only, optional): scalar gradient-reversal weight for this step.

DeepJDOT, entropic DeepJDOT and JUMBOT are one step (:func:`make_joint_ot_loss`) with a different
``solver``; the cost and the plan are computed on device inside the jitted step.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from wassml import train as wtrain
from wassml.domain_adaptation.dann import domain_loss
from wassml.domain_adaptation.joint_ot_loss import joint_ot_loss
from wassml.domain_adaptation.solvers import METHODS, OT_METHODS, Solver, make_solver
from wassml.utils import checks as uc

LossFn = Callable[..., Any]


def _forward(apply_fn, params, batch_stats, x, rng, grl_scale=1.0):
  """Train-mode forward pass of a :class:`DAModel`; threads ``batch_stats`` (batch norm)."""
  (logits, feats, dom), new_bs = wtrain.apply_model(
      apply_fn, params, x, rng, train=True, batch_stats=batch_stats, grl_scale=grl_scale)
  return logits, feats, dom, new_bs


def _source_ce(logits_s, ys):
  return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits_s, ys))


def make_source_only_loss(apply_fn: Callable) -> LossFn:
  """Cross-entropy on the source minibatch only (the target inputs are ignored)."""

  def loss_fn(params, batch_stats, batch, rng):
    logits_s, _, _, bs = _forward(apply_fn, params, batch_stats, batch["xs"], rng)
    ce = _source_ce(logits_s, batch["ys"])
    acc = jnp.mean(jnp.argmax(logits_s, -1) == batch["ys"])
    return ce, ({"loss": ce, "ce_source": ce, "acc_source": acc}, bs)

  return loss_fn


def make_joint_ot_loss(
    apply_fn: Callable, *, solver: Solver, eta1: float, eta2: float, eta3: float = 1.0,
) -> LossFn:
  """DeepJDOT/JUMBOT: ``CE_source + eta3 * sum_ij P_ij C_ij`` with the plan ``P`` held fixed.

  Args:
    apply_fn: ``DAModel.apply``.
    solver: the coupling's OT solver (see :func:`make_solver`).
    eta1: embedding-cost weight; eta2: label-cost weight; eta3: weight of the OT term.
  """

  def loss_fn(params, batch_stats, batch, rng):
    r_s, r_t = jax.random.split(rng)
    logits_s, feats_s, _, bs = _forward(apply_fn, params, batch_stats, batch["xs"], r_s)
    logits_t, feats_t, _, bs = _forward(apply_fn, params, bs, batch["xt"], r_t)
    ce = _source_ce(logits_s, batch["ys"])
    out = joint_ot_loss(feats_s, batch["ys"], feats_t, logits_t, solver=solver,
                        eta1=eta1, eta2=eta2)
    loss = ce + eta3 * out.loss
    metrics = {
        "loss": loss, "ce_source": ce, "ot": out.loss,
        "plan_mass": jnp.sum(out.plan),
        "acc_source": jnp.mean(jnp.argmax(logits_s, -1) == batch["ys"]),
    }
    return loss, (metrics, bs)

  return loss_fn


def make_dann_loss(apply_fn: Callable, *, weight: float = 1.0) -> LossFn:
  """DANN: ``CE_source + weight * domain BCE`` through a gradient-reversal layer."""

  def loss_fn(params, batch_stats, batch, rng):
    r_s, r_t = jax.random.split(rng)
    scale = jnp.asarray(batch.get("grl_scale", 1.0), jnp.float32)
    logits_s, _, dom_s, bs = _forward(apply_fn, params, batch_stats, batch["xs"], r_s, scale)
    _, _, dom_t, bs = _forward(apply_fn, params, bs, batch["xt"], r_t, scale)
    if dom_s is None:
      raise ValueError("DANN needs a DAModel built with discriminator_hidden > 0.")
    ce = _source_ce(logits_s, batch["ys"])
    dl = domain_loss(dom_s, dom_t)
    loss = ce + weight * dl
    metrics = {"loss": loss, "ce_source": ce, "domain_loss": dl,
               "acc_source": jnp.mean(jnp.argmax(logits_s, -1) == batch["ys"])}
    return loss, (metrics, bs)

  return loss_fn


def make_da_loss(
    method: str,
    apply_fn: Callable,
    *,
    eta1: float = 0.1,
    eta2: float = 0.1,
    eta3: float = 1.0,
    epsilon: float | None = 0.1,
    rho: float | None = 1.0,
    num_iters: int | None = None,
    exact_method: str = "auto",
    convention: str = "entropy",
    dann_weight: float = 1.0,
) -> LossFn:
  """The loss of any DA method by name.

  Args:
    method: one of ``'source_only'``, ``'dann'``, ``'deepjdot'``, ``'entropic_deepjdot'``,
      ``'jumbot'``.
    apply_fn: ``DAModel.apply``.
    eta1, eta2, eta3: joint-cost weights and OT-term weight (OT methods).
    epsilon, rho: entropic regularisation and marginal penalty (checked > 0 where used).
    num_iters: optional Sinkhorn iteration cap.
    exact_method: ``wassml.ot.emd`` method of DeepJDOT: ``'auto'``, ``'auction'`` (on device) or
      ``'host'`` (see :func:`make_solver`).
    convention: JUMBOT's unbalanced entropy reference, ``'entropy'`` or ``'kl'``.
    dann_weight: weight of the DANN domain loss.

  Returns:
    ``loss_fn(params, batch_stats, batch, rng) -> (loss, (metrics, new_batch_stats))``.
  """
  if method not in METHODS:
    raise ValueError(f"unknown DA method {method!r}; valid names: {', '.join(METHODS)}.")
  if method == "source_only":
    return make_source_only_loss(apply_fn)
  if method == "dann":
    return make_dann_loss(apply_fn, weight=dann_weight)
  solver = make_solver(method, epsilon=epsilon, rho=rho, num_iters=num_iters,
                       exact_method=exact_method, convention=convention)
  return make_joint_ot_loss(apply_fn, solver=solver, eta1=eta1, eta2=eta2, eta3=eta3)


def make_da_step(method: str, apply_fn: Callable, *, num_classes: int | None = None,
                 jit: bool = True, **kwargs) -> Callable:
  """A jitted ``step(state, batch, rng) -> (state, metrics)`` for a DA method.

  The returned step checks its batch eagerly (source/target feature shapes, source labels
  against ``num_classes``) before calling the compiled step.

  Args:
    method: see :func:`make_da_loss`.
    apply_fn: ``DAModel.apply``.
    num_classes: the classifier's number of outputs, to check the source labels against.
    jit: compile the step (default).
    **kwargs: method settings forwarded to :func:`make_da_loss`.
  """
  inner = wtrain.make_step(make_da_loss(method, apply_fn, **kwargs))
  inner = jax.jit(inner) if jit else inner

  def step(state, batch, rng):
    uc.check_same_feature_shape(batch["xs"], batch["xt"])
    if num_classes is not None:
      uc.check_labels(batch["ys"], num_classes, "source labels")
    return inner(state, batch, rng)

  return step


__all__ = ["make_da_loss", "make_da_step", "make_joint_ot_loss", "make_source_only_loss",
           "make_dann_loss", "OT_METHODS", "METHODS"]
