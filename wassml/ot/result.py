"""The result type shared by every OT solver, and the stopping convention they share."""

from __future__ import annotations

import flax
import jax


@flax.struct.dataclass
class OTResult:
  """Output of an OT solver (a pytree, so it passes through jit/vmap).

  Every solver in :mod:`wassml.ot` returns one, and every loss that wraps a solver returns its
  scalar by default and ``(scalar, OTResult)`` with ``return_output=True`` (as ott-jax).

  Attributes:
    transport_cost: scalar, the transport cost ``<P, C> = sum_ij P_ij C_ij`` (POT's
      ``ot.emd2`` / ``ot.sinkhorn2``, ott-jax's ``primal_cost``). Its gradient with respect to
      the cost matrix ``C`` is ``P`` (plan held fixed, envelope theorem).
    plan: ``[n, m]`` transport plan ``P`` (gradient stopped unless the solver was run with
      ``grad_mode="unroll"``).
    objective: scalar, the solver's own objective: ``transport_cost`` for exact OT, the
      regularised objective for entropic solvers (ott-jax's ``reg_ot_cost``; see each solver).
    f: ``[n]`` dual potential of the rows (see the solver's docstring for its reference).
    g: ``[m]`` dual potential of the columns.
    converged: bool scalar, whether the stopping criterion was met.
    num_iters: int scalar, iterations (or auction rounds, LP solves) run.
    error: scalar, the last value of the solver's stopping criterion (``inf`` if never
      checked; ``0`` for solvers that are exact by construction).

  Stopping convention (all iterative solvers): ``num_iters`` is a hard maximum, counted
  exactly; the criterion is evaluated every ``check_every`` iterations and after the last
  one; the solver stops as soon as ``error <= tol``. ``error`` is the L1 violation of the
  row optimality condition, in units of mass: ``||P 1 - a||_1`` for balanced problems and
  ``||P 1 - a * exp(-f / rho_a)||_1`` for a KL-relaxed marginal (see
  :mod:`wassml.ot.sinkhorn`). The default ``tol`` is ``1e-5`` in float32 and ``1e-9`` in
  float64, relative to the total mass.
  """

  transport_cost: jax.Array
  plan: jax.Array
  objective: jax.Array
  f: jax.Array
  g: jax.Array
  converged: jax.Array
  num_iters: jax.Array
  error: jax.Array
