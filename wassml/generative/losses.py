"""Minibatch OT losses between generated and data samples, selectable by name.

Every loss here has the signature ``loss(rng, x, y) -> scalar`` with ``x: [n, d]`` generated and
``y: [n', d]`` data samples, and is differentiable with respect to ``x``. It is the incomplete
minibatch estimator of Fatras et al. (``wassml.ot.minibatch_ot``) with a chosen OT kernel ``h``:

============================  ============================================================
name                          kernel ``h`` on one ``m x m`` minibatch pair
============================  ============================================================
``exact``                     ``OT(a, b, C)`` (exact, ``wassml.ot.emd``)
``sinkhorn``                  ``<P_eps, C>`` (entropic plan, ``wassml.ot.sinkhorn``)
``unbalanced``                ``<P, C>`` of unbalanced entropic OT (``rho``)
``sinkhorn_divergence``       ``S_eps(x, y)`` on the whole batch (debiased, Genevay et al.)
``sliced``                    sliced Wasserstein ``SW_2^2`` on the whole batch
============================  ============================================================

``exact``, ``sinkhorn`` and ``unbalanced`` draw ``num_batches`` minibatch pairs of size
``batch_size`` inside the given samples (``k`` and ``m`` of the paper); the two others are computed
once on the samples they are given (they are already minibatch losses when the caller feeds
minibatches).
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from wassml import ot

LossFn = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]

LOSSES = ("exact", "sinkhorn", "unbalanced", "sinkhorn_divergence", "sliced")


def _check_dims(x: jax.Array, y: jax.Array) -> None:
  if x.ndim != 2 or y.ndim != 2:
    raise ValueError(f"Generated and data samples must be [n, d] arrays, got {x.shape} and {y.shape}.")
  if x.shape[1] != y.shape[1]:
    raise ValueError(
        f"Generated samples have dimension {x.shape[1]} but data samples have {y.shape[1]}.")


def minibatch_loss(name: str, *, batch_size: int | None = None, num_batches: int = 1,
                   epsilon: float = 0.05, rho: float = 1.0,
                   num_projections: int = 64) -> LossFn:
  """Returns ``loss(rng, x, y) -> scalar`` for the named minibatch OT loss.

  Args:
    name: one of ``LOSSES``.
    batch_size: ``m``, the minibatch size inside the given samples (default: all of them).
    num_batches: ``k``, the number of minibatch pairs averaged.
    epsilon: entropic regularisation (``sinkhorn``, ``unbalanced``, ``sinkhorn_divergence``),
      absolute, on the squared-Euclidean cost.
    rho: marginal penalty of the unbalanced loss (POT's ``reg_m``).
    num_projections: directions of the sliced loss.

  Returns:
    A pure, jit-able loss function.
  """
  if name not in LOSSES:
    raise ValueError(f"Unknown OT loss {name!r}; valid names: {list(LOSSES)}.")
  if num_batches < 1:
    raise ValueError(f"num_batches must be >= 1, got {num_batches}.")
  if batch_size is not None and batch_size < 1:
    raise ValueError(f"batch_size must be >= 1, got {batch_size}.")

  if name == "sliced":
    def loss(rng, x, y):
      _check_dims(x, y)
      return ot.sliced_wasserstein(rng, x, y, num_projections=num_projections)
    return loss
  if name == "sinkhorn_divergence":
    def loss(rng, x, y):
      del rng
      _check_dims(x, y)
      return ot.sinkhorn_divergence(x, y, epsilon=epsilon)
    return loss

  solver = {
      "exact": ot.emd,
      "sinkhorn": functools.partial(ot.sinkhorn, epsilon=epsilon),
      "unbalanced": functools.partial(ot.unbalanced_sinkhorn, epsilon=epsilon, rho=rho),
  }[name]

  def loss(rng, x, y):
    _check_dims(x, y)
    n = min(x.shape[0], y.shape[0])
    m = n if batch_size is None else batch_size
    if m > n:
      raise ValueError(f"batch_size {m} is larger than the number of samples {n}.")
    return ot.minibatch_ot(rng, x, y, batch_size=m, num_batches=num_batches, solver=solver)
  return loss


def exact_w2(x: ArrayLike, y: ArrayLike) -> jax.Array:
  """Exact ``W_2`` between two uniform point clouds ``x: [n, d]``, ``y: [n', d]``."""
  x, y = jnp.asarray(x), jnp.asarray(y)
  _check_dims(x, y)
  return jnp.sqrt(jnp.maximum(ot.emd(ot.sqeuclidean(x, y)).transport_cost, 0.0))
