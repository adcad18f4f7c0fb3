"""OT between class-probability vectors (label space), as in WAR."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from wassml.ot.sinkhorn import MODES, kernel_safe_ratio, sinkhorn
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
    mode: str = "auto",
) -> jax.Array:
  """Entropic OT between class-probability vectors, batched (WAR's regulariser).

  For each row ``i``: ``OT_eps(p_i, q_i) = <P_i, C>`` where ``P_i`` is the
  Sinkhorn plan of ``min_{P 1 = p_i, P^T 1 = q_i} <P, C> + eps KL(P|p_i q_i^T)``
  after exactly ``num_iters`` Sinkhorn iterations. Gradients are taken
  through the unrolled iterations (as WAR's reference code), so they flow to
  both ``p`` and ``q``; pass ``jax.lax.stop_gradient(p)`` for ``f̂``.

  The iterations run in the kernel (scaling) domain when ``max C / epsilon``
  is small enough for the dtype (:func:`wassml.ot.sinkhorn.kernel_safe_ratio`;
  float32: 50, i.e. ``epsilon > 0.02`` for a cost bounded by 1), else in the
  log domain. Both give the same iterates in exact arithmetic; on ``K x K``
  label problems the kernel domain is an order of magnitude faster (no
  exponentials inside the loop; ``experiments/noisy_labels/bench_label_ot.py``).

  Args:
    p: ``[B, K]`` probability vectors (rows sum to 1).
    q: ``[B, K]`` probability vectors.
    ground_cost: ``[K, K]`` cost between classes: square, non-negative, zero
      diagonal.
    epsilon: absolute entropic regularisation (WAR: 0.05).
    num_iters: Sinkhorn iterations (WAR: 20).
    mode: ``"auto"`` (default): ``"kernel"`` when ``ground_cost`` is concrete
      and ``max C / epsilon < kernel_safe_ratio``, ``"log"`` when it is larger;
      for a traced ``ground_cost`` a ``lax.cond`` on that ratio (both branches
      run if the cost is batched under ``vmap``). ``"kernel"``: always the
      kernel domain; raises for a concrete cost above the safe ratio, and for a
      traced cost the caller guarantees the bound (every cost built by
      :mod:`wassml.regularization.ground_cost` lies in ``[0, 1]``).
      ``"log"``: always the log domain.

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
  if mode not in MODES:
    raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
  dt = jnp.result_type(p, q, ground_cost, float)
  c = jnp.asarray(ground_cost, dt)
  concrete = uc.concrete(ground_cost)
  safe = kernel_safe_ratio(dt)
  if concrete is not None:
    ratio = float(np.max(np.abs(concrete))) / float(epsilon)
    if mode == "kernel" and not ratio < safe:
      raise ValueError(
          f"mode='kernel' would underflow: max|ground_cost|/epsilon = {ratio:.3g} >= {safe} "
          f"for {jnp.dtype(dt).name}. Use mode='auto' or mode='log'.")
    if mode == "auto":
      mode = "kernel" if ratio < safe else "log"

  def solve(m):
    def one(pi, qi):
      return sinkhorn(c, pi, qi, epsilon=epsilon, num_iters=int(num_iters), mode=m,
                      grad_mode="unroll").cost
    return jax.vmap(one)(jnp.asarray(p, dt), jnp.asarray(q, dt))

  if mode != "auto":
    return solve(mode)
  return jax.lax.cond(jnp.max(jnp.abs(c)) / epsilon < safe,
                      lambda: solve("kernel"), lambda: solve("log"))
