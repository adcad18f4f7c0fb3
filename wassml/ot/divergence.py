"""Sinkhorn divergence between point clouds."""

from __future__ import annotations

from typing import Callable, Optional

import jax
from jax.typing import ArrayLike

from wassml.ot.costs import sqeuclidean
from wassml.ot.sinkhorn import sinkhorn


def sinkhorn_divergence(
    x: ArrayLike,
    y: ArrayLike,
    a: Optional[ArrayLike] = None,
    b: Optional[ArrayLike] = None,
    *,
    epsilon: float,
    cost_fn: Callable[[jax.Array, jax.Array], jax.Array] = sqeuclidean,
    **sinkhorn_kwargs,
) -> jax.Array:
  """Debiased Sinkhorn divergence.

  ``S(a, b) = OT_eps(a, b) - (OT_eps(a, a) + OT_eps(b, b)) / 2`` with
  ``OT_eps = <P, C> + eps KL(P | a b^T)`` (the ``.objective`` of
  :func:`wassml.ot.sinkhorn`), which makes ``S >= 0`` and ``S(a, a) = 0``.

  Args:
    x: ``[n, d]`` points of the first cloud.
    y: ``[m, d]`` points of the second cloud.
    a: ``[n]`` probability weights or None (uniform).
    b: ``[m]`` probability weights or None (uniform).
    epsilon: absolute entropic regularisation.
    cost_fn: ``cost_fn(x, y) -> [n, m]`` ground cost.
    **sinkhorn_kwargs: passed to :func:`wassml.ot.sinkhorn`.

  Returns:
    scalar divergence; differentiable in ``x``, ``y``, ``a``, ``b``.
  """
  kw = dict(epsilon=epsilon, **sinkhorn_kwargs)
  xy = sinkhorn(cost_fn(x, y), a, b, **kw).objective
  xx = sinkhorn(cost_fn(x, x), a, a, **kw).objective
  yy = sinkhorn(cost_fn(y, y), b, b, **kw).objective
  return xy - 0.5 * (xx + yy)
