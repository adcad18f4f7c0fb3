"""The result type shared by every OT solver."""

from __future__ import annotations

import flax
import jax


@flax.struct.dataclass
class OTResult:
  """Output of an OT solver (a pytree, so it passes through jit/vmap).

  Attributes:
    cost: scalar, the transport cost ``<P, C> = sum_ij P_ij C_ij``. Its gradient
      with respect to ``C`` is ``P`` (plan held fixed, envelope theorem).
    plan: ``[n, m]`` transport plan ``P`` (gradient stopped unless the solver
      was run with ``grad_mode="unroll"``).
    objective: scalar, the solver's own objective: ``cost`` for exact OT, the
      regularised objective for entropic solvers (see each solver).
    f: ``[n]`` dual potential / log-scaling of the rows (solver-specific, see
      the solver's docstring).
    g: ``[m]`` dual potential / log-scaling of the columns.
    converged: bool scalar, whether the stopping criterion was met.
    num_iters: int scalar, iterations (or auction rounds) run.
  """

  cost: jax.Array
  plan: jax.Array
  objective: jax.Array
  f: jax.Array
  g: jax.Array
  converged: jax.Array
  num_iters: jax.Array
