"""Exact optimal transport on the real line, in ``O((n + m) log(n + m))``, with dual potentials.

For samples ``x: [n]``, ``y: [m]`` with weights ``a >= 0``, ``b >= 0`` of equal total mass and
the cost ``C_ij = |x_i - y_j|^p`` with ``p >= 1`` (a convex function of ``x_i - y_j``)::

    OT_p(a, b) = min_{P >= 0, P 1 = a, P^T 1 = b} <P, C>
               = int_0^M |F_a^{-1}(t) - F_b^{-1}(t)|^p dt          (M = sum a = sum b)

(``W_p^p``, not its ``p``-th root: the value of POT's ``ot.wasserstein_1d(x, y, a, b, p)`` and
``ot.emd2_1d(x, y, a, b, metric="minkowski", p=p)``; :func:`wassml.ot.wasserstein` returns the
root of the general problem.)

Algorithm. Sort both sides (``x_(0) <= ... <= x_(n-1)``, ``y_(0) <= ... <= y_(m-1)``), take the
cumulative weights ``A_i = a_(0) + ... + a_(i)``, ``B_j = b_(0) + ... + b_(j)`` and merge the
``n + m - 2`` interior breakpoints ``A_0..A_{n-2}, B_0..B_{m-2}`` (one sort). Walking through
them in order from the cell ``(0, 0)``, an ``A`` breakpoint moves one row down and a ``B``
breakpoint one column right: a staircase path of ``K = n + m - 1`` cells ``(i_k, j_k)`` that
ends in ``(n-1, m-1)``. Cell ``k`` carries the mass ``t_k - t_{k-1}`` between consecutive
breakpoints (``t_{-1} = 0``, ``t_{K-1} = M``): this is the north-west-corner (monotone,
quantile) coupling, which is optimal because the sorted cost is a Monge matrix
(``C_ij + C_i'j' <= C_ij' + C_i'j`` for ``i < i'``, ``j < j'``, since ``|.|^p`` is convex).
The value is ``sum_k (t_k - t_{k-1}) |x_(i_k) - y_(j_k)|^p``.

Duals. Along the path ``f_(i_k) + g_(j_k) = C_(i_k)(j_k)`` for every cell: a row step
``(i, j) -> (i+1, j)`` sets ``f_(i+1) = f_(i) + C_(i+1)j - C_ij``, a column step sets
``g_(j+1) = g_(j) + C_i(j+1) - C_ij`` (both are prefix sums, computed with ``cumsum``). For any
staircase path of a Monge matrix these potentials are dual feasible: the reduced cost
``C_ij - f_i - g_j`` of a cell off the path is a sum of Monge differences, each ``>= 0``. Their
dual objective ``<f, a> + <g, b>`` equals the value (each cell's mass telescopes into the
marginals), so they are optimal. Zero-mass cells (coinciding breakpoints, zero weights) are
kept on the path, so every row and column gets a potential, also those with zero weight.
Optimal duals are unique up to ``(f + c, g - c)`` when the path cells all carry positive mass
(generic weights: the plan is a non-degenerate basic solution); the returned pair is centred as
POT's ``ot.lp.emd`` (``center_dual=True``) and ``ot.emd_1d_dual_backprop`` centre theirs::

    <f, a> = <g, b> = value / 2.

Gradients (first order, envelope theorem: the coupling is held fixed):
``d value / d x_i = sum_j P_ij p |x_i - y_j|^(p-1) sign(x_i - y_j)`` (likewise in ``y``),
``d value / d a = f`` and ``d value / d b = g``: the centred duals above. ``f`` is a gradient in
the directions that keep the masses equal (``sum da = sum db``), where the value is defined;
any other centring ``(f + c, g - c)`` is an equally valid gradient there. Where the duals are
not unique (coinciding CDF breakpoints, e.g. uniform weights with ``n = 4``, ``m = 6``) the value
has a kink in the weights, and ``(f, g)`` is one subgradient of it (the value is convex in
``(a, b)``). The gradient in
``x`` is exact where the samples are distinct (a tie is a kink, where one subgradient is
returned). The duals and the plan are returned with their gradients stopped.

Memory: the solver is ``O(n + m)``; only ``return_output=True`` builds the dense ``[n, m]``
plan (``O(n m)``, scattered from the ``n + m - 1`` path cells).
"""

from __future__ import annotations

import functools
from typing import NamedTuple, Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from wassml.ot.checks import float_dtype, prepare_weight
from wassml.ot.result import OTResult
from wassml.utils import checks as uc

#: Relative tolerance of the equal-mass check ``|sum a - sum b| <= MASS_RTOL * max(sum a, sum b)``.
MASS_RTOL = 1e-4


def ground_cost_1d(d: jax.Array, p: float) -> jax.Array:
  """``|d|^p`` with the exact forms for ``p = 1, 2`` (gradient ``0`` at ``d = 0``)."""
  if p == 1.0:
    return jnp.abs(d)
  if p == 2.0:
    return d * d
  return jnp.abs(d) ** p


class Staircase(NamedTuple):
  """The monotone coupling of two sorted 1-D measures (see the module docstring).

  Attributes:
    perm_x: ``[n]`` argsort of ``x``; ``perm_y``: ``[m]`` argsort of ``y``.
    rows: ``[K]`` sorted-row index ``i_k`` of cell ``k`` (``K = n + m - 1``).
    cols: ``[K]`` sorted-column index ``j_k``.
    mass: ``[K]`` mass of cell ``k`` (``>= 0``, some possibly 0).
    cell_cost: ``[K]`` ``|x_(i_k) - y_(j_k)|^p``.
    f: ``[n]``, ``g``: ``[m]`` uncentred path potentials in the ORIGINAL order.
  """

  perm_x: jax.Array
  perm_y: jax.Array
  rows: jax.Array
  cols: jax.Array
  mass: jax.Array
  cell_cost: jax.Array
  f: jax.Array
  g: jax.Array


def staircase(x: jax.Array, y: jax.Array, a: jax.Array, b: jax.Array, p: float) -> Staircase:
  """The monotone coupling and its path potentials (no checks; ``a``, ``b`` equal masses).

  Gradients flow from ``cell_cost`` (and ``f``, ``g``) to ``x``, ``y``, and from ``mass`` to
  ``a``, ``b`` (through a sort of the cumulative weights); :func:`wasserstein_1d` stops the
  latter and uses the envelope gradients instead.
  """
  n, m = x.shape[0], y.shape[0]
  perm_x = jnp.argsort(jax.lax.stop_gradient(x))
  perm_y = jnp.argsort(jax.lax.stop_gradient(y))
  xs, ys = x[perm_x], y[perm_y]
  ca = jnp.cumsum(a[perm_x])
  cb = jnp.cumsum(b[perm_y])
  total = 0.5 * (ca[-1] + cb[-1])
  inner = jnp.concatenate([ca[:-1], cb[:-1]])  # [n + m - 2]
  order = jnp.argsort(inner, stable=True)  # ties: the row step first (any order is optimal)
  t = inner[order]
  row_step = order < n - 1
  zero = jnp.zeros((1,), jnp.int32)
  rows = jnp.concatenate([zero, jnp.cumsum(row_step.astype(jnp.int32))])
  cols = jnp.concatenate([zero, jnp.cumsum((~row_step).astype(jnp.int32))])
  lo = jnp.concatenate([jnp.zeros((1,), t.dtype), t])
  hi = jnp.concatenate([t, total[None]])
  mass = jnp.maximum(hi - lo, 0.0)
  cell_cost = ground_cost_1d(xs[rows] - ys[cols], p)
  # Potentials along the path: F_k + G_k = cell_cost_k, F changes on row steps only.
  step = cell_cost[1:] - cell_cost[:-1]
  zf = jnp.zeros((1,), cell_cost.dtype)
  F = cell_cost[0] + jnp.concatenate([zf, jnp.cumsum(jnp.where(row_step, step, 0.0))])
  G = jnp.concatenate([zf, jnp.cumsum(jnp.where(row_step, 0.0, step))])
  f_sorted = jnp.zeros((n,), F.dtype).at[rows].set(F)
  g_sorted = jnp.zeros((m,), G.dtype).at[cols].set(G)
  f = jnp.zeros_like(f_sorted).at[perm_x].set(f_sorted)
  g = jnp.zeros_like(g_sorted).at[perm_y].set(g_sorted)
  return Staircase(perm_x, perm_y, rows, cols, mass, cell_cost, f, g)


def center_duals(f: jax.Array, g: jax.Array, a: jax.Array, b: jax.Array):
  """``(f + c, g - c)`` with ``<f + c, a> = <g - c, b>`` (POT's ``ot.lp.center_ot_dual``)."""
  c = (jnp.sum(g * b) - jnp.sum(f * a)) / (jnp.sum(a) + jnp.sum(b))
  return f + c, g - c


@functools.partial(jax.jit, static_argnames=("p", "return_output"))
def _wasserstein_1d(x, y, a, b, p, return_output):
  a0 = jax.lax.stop_gradient(a)
  b0 = jax.lax.stop_gradient(b)
  st = staircase(x, y, a0, b0, p)
  f, g = center_duals(st.f, st.g, a0, b0)
  f = jax.lax.stop_gradient(f)
  g = jax.lax.stop_gradient(g)
  # Forward: the sum over path cells; the added terms are exactly 0 and carry d/da = f, d/db = g.
  value = jnp.sum(st.mass * st.cell_cost) + jnp.sum(f * (a - a0)) + jnp.sum(g * (b - b0))
  if not return_output:
    return value
  n, m = x.shape[0], y.shape[0]
  plan = jnp.zeros((n, m), st.mass.dtype).at[st.perm_x[st.rows], st.perm_y[st.cols]].add(
      st.mass)
  out = OTResult(
      transport_cost=value, plan=plan, objective=value, f=f, g=g,
      converged=jnp.asarray(True), num_iters=jnp.asarray(n + m - 1),
      error=jnp.zeros((), value.dtype))
  return value, out


def check_exponent(p) -> float:
  """``p`` as a Python float; raises ValueError unless it is a finite number ``>= 1``."""
  if uc.is_tracer(p):
    raise TypeError("p must be a concrete Python number (it is a static setting), got a tracer.")
  try:
    pf = float(p)
  except (TypeError, ValueError):
    raise TypeError(f"p must be a number, got {p!r}.") from None
  if not np.isfinite(pf) or pf < 1:
    raise ValueError(
        f"p must be a finite number >= 1 (|x - y|^p must be convex for the monotone coupling to "
        f"be optimal), got {p!r}.")
  return pf


def prepare_weights(a, b, n: int, m: int, dt, *, names=("a", "b"), sizes=("x", "y")):
  """Checks and fills the weights of two 1-D measures (uniform ``1/n``, ``1/m`` if None).

  Raises ValueError for a wrong shape, a negative / NaN / infinite entry, zero total mass, or
  (concrete inputs) total masses that differ by more than ``MASS_RTOL`` relatively.
  """
  out = [prepare_weight(w, name, size, dt, matches=f"{of} of {size} samples", balanced=False)
         for w, name, size, of in ((a, names[0], n, sizes[0]), (b, names[1], m, sizes[1]))]
  ca, cb = uc.concrete(out[0]), uc.concrete(out[1])
  if ca is not None and cb is not None:
    sa, sb = float(np.sum(ca, dtype=np.float64)), float(np.sum(cb, dtype=np.float64))
    if abs(sa - sb) > MASS_RTOL * max(sa, sb):
      raise ValueError(
          f"{names[0]} and {names[1]} must have the same total mass (balanced OT), got "
          f"sum({names[0]}) = {sa!r} and sum({names[1]}) = {sb!r}.")
  return out[0], out[1]


def _check_samples(x, name):
  uc.check_floating_or_int(x, name)
  uc.check_ndim(x, 1, name)
  if jnp.shape(x)[0] == 0:
    raise ValueError(f"{name} must hold at least one sample, got shape {tuple(jnp.shape(x))}.")
  uc.check_finite(x, name)


def wasserstein_1d(
    x: ArrayLike,
    y: ArrayLike,
    a: Optional[ArrayLike] = None,
    b: Optional[ArrayLike] = None,
    *,
    p: float = 2.0,
    return_output: bool = False,
) -> jax.Array | Tuple[jax.Array, OTResult]:
  """Exact OT between weighted samples on the line, ``W_p^p`` (see the module docstring).

  ``value = min_{P 1 = a, P^T 1 = b, P >= 0} sum_ij P_ij |x_i - y_j|^p``, solved in
  ``O((n + m) log(n + m))`` by the monotone (north-west-corner) coupling of the sorted samples.

  POT: ``ot.wasserstein_1d(x, y, a, b, p=p)`` (same value) and
  ``ot.emd_1d(x, y, a, b, metric="minkowski", p=p)`` (same plan for distinct samples);
  ``ot.lp.emd(a, b, C, log=True)`` duals ``log["u"], log["v"]`` (centred the same way) and
  ``ot.emd_1d_dual_backprop``. ott-jax: ``ott.solvers.linear.univariate``.

  Args:
    x: ``[n]`` samples (any order, ties allowed).
    y: ``[m]`` samples.
    a: ``[n]`` non-negative weights, uniform ``1/n`` if None.
    b: ``[m]`` non-negative weights, uniform ``1/m`` if None; ``sum b`` must equal ``sum a``
      (relative tolerance ``MASS_RTOL``; any positive total, not only 1).
    p: exponent ``>= 1`` of the cost ``|x - y|^p`` (a static Python number).
    return_output: also return an :class:`OTResult`.

  Returns:
    The scalar ``W_p^p``; with ``return_output=True``, ``(value, OTResult)`` with
    ``transport_cost = objective = value``, the dense ``[n, m]`` monotone ``plan`` (``O(n m)``
    memory, built only here), the centred duals ``f: [n]``, ``g: [m]`` in the input order
    (``f_i + g_j <= |x_i - y_j|^p`` for all pairs, ``<f, a> = <g, b> = value / 2``),
    ``converged = True``, ``num_iters = n + m - 1`` (path cells) and ``error = 0``.
    Differentiable in ``x``, ``y`` (envelope gradient) and ``a``, ``b`` (``= f``, ``g``).

  Raises:
    ValueError: ``x`` or ``y`` not 1-D or empty or not finite; weights of the wrong shape,
      negative, NaN or of zero total; total masses that differ; ``p < 1``.
    TypeError: non-numeric input, or a traced ``p``.

  Under ``jit``/``vmap`` the value checks (finite, non-negative, equal masses) are skipped:
  negative weights then give a meaningless value, and unequal masses are solved as if both
  totals were their mean (the last path cell absorbs the difference; the plan's marginals are
  off by it). NaN samples give NaN.

  Examples:
    >>> import jax.numpy as jnp
    >>> from wassml import ot
    >>> float(ot.wasserstein_1d(jnp.array([0.0, 1.0]), jnp.array([2.0]), p=1.0))
    1.5
  """
  _check_samples(x, "x")
  _check_samples(y, "y")
  p = check_exponent(p)
  dt = float_dtype(x, y, a, b)
  x = jnp.asarray(x, dt)
  y = jnp.asarray(y, dt)
  a, b = prepare_weights(a, b, x.shape[0], y.shape[0], dt)
  return _wasserstein_1d(x, y, a, b, p, bool(return_output))
