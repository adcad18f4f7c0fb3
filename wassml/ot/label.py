"""OT between class-probability vectors (label space), as in WAR."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from wassml.ot.sinkhorn import MODES, kernel_safe_ratio, sinkhorn
from wassml.utils import checks as uc
from wassml.utils.checks import check_ground_cost  # re-exported as wassml.ot.check_ground_cost

__all__ = ["check_ground_cost", "label_ot"]


def label_ot(
    p: ArrayLike,
    q: ArrayLike,
    ground_cost: ArrayLike,
    *,
    epsilon: float,
    num_iters: int = 20,
    mode: str = "auto",
    return_output: bool = False,
):
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
      diagonal (:func:`wassml.utils.checks.check_ground_cost`).
    epsilon: absolute entropic regularisation (WAR: 0.05).
    num_iters: Sinkhorn iterations (WAR: 20).
    mode: ``"auto"`` (default), resolved before tracing: ``"kernel"`` when ``ground_cost`` is
      concrete and ``max C / epsilon < kernel_safe_ratio``, ``"log"`` when it is larger; for a
      traced ``ground_cost`` the solver's own ``"auto"`` (log-stabilised scaling: stable, one
      program under ``vmap``, a kernel rebuilt every 10 iterations). ``"kernel"``: always the
      kernel domain; raises for a concrete cost above the safe ratio, and for a
      traced cost the caller guarantees the bound (every cost built by
      :mod:`wassml.regularization.ground_cost` lies in ``[0, 1]``).
      ``"log"``: always the log domain.
    return_output: also return the batched solver result.

  Returns:
    ``[B]`` transport costs; with ``return_output=True``, ``(costs, OTResult)`` where every
    field of the :class:`~wassml.ot.OTResult` has a leading batch axis ``B`` (``plan:
    [B, K, K]``, ``f, g: [B, K]``, the scalars ``[B]``).
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
      res = sinkhorn(c, pi, qi, epsilon=epsilon, num_iters=int(num_iters), mode=m,
                     grad_mode="unroll")
      return (res.transport_cost, res) if return_output else res.transport_cost
    return jax.vmap(one)(jnp.asarray(p, dt), jnp.asarray(q, dt))

  # A traced cost keeps "auto": the solver's log-stabilised scaling, one program (no branch).
  return solve(mode)
