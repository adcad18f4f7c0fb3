"""The interchangeable solver of the one joint-coupling step: exact, entropic, unbalanced or
partial OT.

DeepJDOT (exact OT, Damodaran et al., 2018), entropic DeepJDOT (balanced Sinkhorn), JUMBOT
(unbalanced entropic OT, Fatras et al., 2021) and partial DeepJDOT (partial OT: only ``mass`` of
each minibatch is transported, so source points of classes absent from the target can be left
out; as in partial-DA with partial OT, e.g. Chapel et al., 2020) are the *same* training step
with a different ``solver(cost, a, b) -> wassml.ot.OTResult``.
"""

from __future__ import annotations

import functools
from typing import Callable

from wassml import ot as wot
from wassml.utils import checks as uc

Solver = Callable[..., "wot.OTResult"]

#: Methods that couple source and target with a minibatch OT plan, and their solver.
OT_METHODS = ("deepjdot", "entropic_deepjdot", "jumbot")
#: Partial-OT methods, available through :func:`make_solver` only (they need ``mass``, which the
#: method-name harness ``make_da_loss`` / ``make_da_step`` does not pass; build the step with
#: ``make_joint_ot_loss(apply_fn, solver=make_solver("partial_deepjdot", mass=...), ...)``).
PARTIAL_OT_METHODS = ("partial_deepjdot",)
#: Baselines trained in the same harness.
BASELINES = ("source_only", "dann")
METHODS = BASELINES + OT_METHODS
#: ``wassml.ot.emd`` methods usable by DeepJDOT.
EXACT_METHODS = ("auto", "auction", "host")


def make_solver(
    method: str,
    *,
    epsilon: float | None = None,
    rho: float | None = None,
    num_iters: int | None = None,
    exact_method: str = "auto",
    convention: str = "entropy",
    mass: float | None = None,
) -> Solver:
  """Returns the OT solver of a joint-coupling method.

  Args:
    method: ``'deepjdot'`` (exact OT, ``wassml.ot.emd``), ``'entropic_deepjdot'`` (balanced
      Sinkhorn, ``wassml.ot.sinkhorn``) or ``'jumbot'`` (``wassml.ot.unbalanced_sinkhorn`` with
      the POT ``reg_type='entropy'`` convention of the JUMBOT reference code).
    epsilon: entropic regularisation (> 0), required by the entropic methods.
    rho: marginal KL penalty (> 0; ``tau`` in the JUMBOT paper), required by ``'jumbot'``.
    num_iters: optional Sinkhorn iteration cap (static).
    exact_method: ``wassml.ot.emd``'s ``method`` for ``'deepjdot'``: ``'auto'`` (default:
      whatever ``wassml.ot.emd`` picks: the JAX auction on accelerators, scipy on the host on a
      CPU backend, where it is far faster), ``'auction'`` (always the JAX-native auction, on
      device inside the jitted step; square minibatches) or ``'host'`` (scipy through a callback).
    convention: ``wassml.ot.unbalanced_sinkhorn``'s entropy reference for ``'jumbot'``:
      ``'entropy'`` (default, POT ``reg_type='entropy'``, the JUMBOT reference code) or ``'kl'``
      (``KL(P | a b^T)``, the thesis' formula; its plan mass stays bounded for small ``rho``).
    mass: the transported mass of ``'partial_deepjdot'``, in ``(0, 1]`` for the uniform
      minibatch weights of :func:`joint_ot_loss` (in general ``<= min(sum a, sum b)``, checked
      by the solver); required by it and ignored by the other methods.

  Returns:
    ``solver(cost [n, m], a [n] | None, b [m] | None) -> OTResult``.

  Raises:
    ValueError: on an unknown method, ``epsilon <= 0`` / ``rho <= 0``, or a missing or
      non-positive ``mass`` for ``'partial_deepjdot'``.
  """
  if method not in OT_METHODS + PARTIAL_OT_METHODS:
    raise ValueError(f"unknown OT method {method!r}; valid names: "
                     f"{', '.join(OT_METHODS + PARTIAL_OT_METHODS)}.")
  if exact_method not in EXACT_METHODS:
    raise ValueError(f"unknown exact_method {exact_method!r}; valid names: "
                     f"{', '.join(EXACT_METHODS)}.")
  extra = {} if num_iters is None else {"num_iters": int(num_iters)}
  if method == "partial_deepjdot":
    if mass is None:
      raise ValueError("method 'partial_deepjdot' needs mass > 0 (the transported mass; got None).")
    uc.check_positive_scalar(mass, "mass")
    if epsilon is None:
      return functools.partial(wot.partial_wasserstein, mass=float(mass))
    uc.check_positive_scalar(epsilon, "epsilon")
    return functools.partial(wot.entropic_partial_wasserstein, mass=float(mass),
                             epsilon=float(epsilon), **extra)
  if method == "deepjdot":
    return wot.emd if exact_method == "auto" else functools.partial(wot.emd, method=exact_method)
  if epsilon is None:
    raise ValueError(f"method {method!r} needs epsilon > 0 (got None).")
  uc.check_positive_scalar(epsilon, "epsilon")
  if method == "entropic_deepjdot":
    return functools.partial(wot.sinkhorn, epsilon=float(epsilon), **extra)
  if rho is None:
    raise ValueError("method 'jumbot' needs rho > 0 (the marginal penalty tau; got None).")
  uc.check_positive_scalar(rho, "rho")
  return functools.partial(
      wot.unbalanced_sinkhorn, epsilon=float(epsilon), rho=float(rho), convention=convention,
      **extra)
