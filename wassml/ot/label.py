"""OT between class-probability vectors (label space), as in WAR."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from wassml.ot.sinkhorn import sinkhorn
from wassml.utils import checks as uc


def check_ground_cost(ground_cost: ArrayLike, num_classes: int | None = None) -> None:
  """Raises ValueError unless ``ground_cost`` is a valid ``[K, K]`` class cost.

  Valid: square, finite, non-negative, zero diagonal (checked when concrete).
  """
  uc.check_ndim(ground_cost, 2, "ground_cost")
  k1, k2 = np.shape(ground_cost)
  if k1 != k2:
    raise ValueError(f"ground_cost must be square [K, K], got shape {(k1, k2)}.")
  if num_classes is not None and k1 != num_classes:
    raise ValueError(
        f"ground_cost is {k1}x{k1} but the probability vectors have K={num_classes} classes.")
  uc.check_finite(ground_cost, "ground_cost")
  uc.check_nonnegative(ground_cost, "ground_cost")
  c = uc.concrete(ground_cost)
  if c is not None and np.any(np.abs(np.diag(c)) > 1e-6):
    raise ValueError(
        "ground_cost must have a zero diagonal (moving mass within a class is free); "
        f"its diagonal is {np.diag(c)!r}.")


def label_ot(
    p: ArrayLike,
    q: ArrayLike,
    ground_cost: ArrayLike,
    *,
    epsilon: float,
    num_iters: int = 20,
) -> jax.Array:
  """Entropic OT between class-probability vectors, batched (WAR's regulariser).

  For each row ``i``: ``OT_eps(p_i, q_i) = <P_i, C>`` where ``P_i`` is the
  Sinkhorn plan of ``min_{P 1 = p_i, P^T 1 = q_i} <P, C> + eps KL(P|p_i q_i^T)``
  after exactly ``num_iters`` log-domain iterations. Gradients are taken
  through the unrolled iterations (as WAR's reference code), so they flow to
  both ``p`` and ``q``; pass ``jax.lax.stop_gradient(p)`` for ``f̂``.

  Args:
    p: ``[B, K]`` probability vectors (rows sum to 1).
    q: ``[B, K]`` probability vectors.
    ground_cost: ``[K, K]`` cost between classes: square, non-negative, zero
      diagonal.
    epsilon: absolute entropic regularisation (WAR: 0.05).
    num_iters: Sinkhorn iterations (WAR: 20).

  Returns:
    ``[B]`` transport costs.
  Examples:
    >>> import jax.numpy as jnp
    >>> from wassml import ot
    >>> p = jnp.array([[1.0, 0.0, 0.0]])
    >>> q = jnp.array([[0.0, 1.0, 0.0]])
    >>> ground_cost = jnp.array([[0.0, 2.0, 5.0], [2.0, 0.0, 5.0], [5.0, 5.0, 0.0]])
    >>> ot.label_ot(p, q, ground_cost, epsilon=0.05).round(3).tolist()
    [2.0]
  """
  uc.check_ndim(p, 2, "p")
  uc.check_ndim(q, 2, "q")
  if np.shape(p) != np.shape(q):
    raise ValueError(f"p and q must have the same shape [B, K], got {np.shape(p)} and "
                     f"{np.shape(q)}.")
  check_ground_cost(ground_cost, np.shape(p)[1])
  for w, name in ((p, "p"), (q, "q")):
    uc.check_nonnegative(w, name)
    uc.check_finite(w, name)
    uc.check_sums_to_one(w, name + " rows", axis=1)
  uc.check_positive_scalar(epsilon, "epsilon")
  dt = jnp.result_type(p, q, ground_cost, float)
  c = jnp.asarray(ground_cost, dt)

  def one(pi, qi):
    return sinkhorn(c, pi, qi, epsilon=epsilon, num_iters=int(num_iters), mode="log",
                    grad_mode="unroll").cost

  return jax.vmap(one)(jnp.asarray(p, dt), jnp.asarray(q, dt))
