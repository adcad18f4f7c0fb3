r"""Sinkhorn between point clouds that never forms the ``n x m`` cost or plan ("online").

Same problem, same potentials and same plan as :func:`wassml.ot.sinkhorn` on the dense cost
``C_ij = c(x_i, y_j)``::

    OT_eps(a, b) = min_{P 1 = a, P^T 1 = b} <P, C> + eps KL(P | a b^T),
    P_ij = a_i b_j exp((f_i + g_j - C_ij) / eps),

solved in the log domain by alternating soft c-transforms::

    f_i <- -eps log sum_j b_j exp((g_j - C_ij) / eps)      (then the rows of P sum to a)
    g_j <- -eps log sum_i a_i exp((f_i - C_ij) / eps)      (then the columns sum to b)

Each transform is computed by blocks of ``block_size`` output points (``lax.map`` over blocks):
one block computes its ``[block, m]`` (or ``[block, n]``) tile of the cost on the fly, then a
weighted logsumexp over it. Peak memory is ``O((n + m) d + block_size * max(n, m))``, never
``n m``; the price is that every iteration recomputes the cost (two passes over all ``n m``
pairs, each a ``[block, d] x [d, m]`` product plus ``block * m`` exponentials). ``n`` or ``m``
not divisible by the block size is handled by padding the last block with zero rows whose
outputs are sliced off (they never enter a sum).

Costs (``cost=``): ``"sqeuclidean"``, ``||x - y||^2`` computed in the tile as
``|x|^2 + |y|^2 - 2 x.y`` at full float32 precision and clipped at 0 (as
:func:`wassml.ot.costs.sqeuclidean`); ``"euclidean_power"``, ``||x - y||^p`` (``p > 0``) from the
same squared distance (so in float32 its absolute error near 0 is ``~sqrt(1e-7 |x||y|)``, unlike
:func:`wassml.ot.costs.euclidean_power`, which forms the ``[n, m, d]`` differences).

Stopping: the shared convention of :class:`wassml.ot.OTResult`. After a full (``f`` then ``g``)
update the columns are exact; the error is the row violation ``||P 1 - a||_1 =
sum_i a_i |exp((f_i - f~_i)/eps) - 1|`` with ``f~`` the next ``f`` update, which the iteration
computes anyway, so checking convergence costs nothing extra.

Gradients (envelope theorem, no differentiation through the iterations): the loop runs on
stopped inputs; the result's ``objective`` is then recomputed by one more soft c-transform on the
differentiable inputs::

    objective = <a, f~(x, y, b; g*)> + <b, g*> + eps (sum(a) sum(b) - sum(a)),
    f~_i = -eps log sum_j b_j exp((g*_j - c(x_i, y_j)) / eps),     g* = stop_gradient(g),

whose value is ``<f, a> + <g, b>`` (= ``wassml.ot.sinkhorn(...).objective`` at convergence) and
whose autodiff gradient is exactly the envelope gradient of ``OT_eps``:
``d/dx_i = sum_j P_ij grad_x c(x_i, y_j)``, ``d/dy_j = sum_i P_ij grad_y c(x_i, y_j)``,
``d/da = f``, ``d/db = g`` (the last term makes them the potentials themselves rather than
``f - eps``; it is 0 for probability vectors). The backward pass recomputes each tile
(``jax.checkpoint`` per block), so it is ``O(block * m)`` memory as well.

Parameter mapping: ``epsilon`` is absolute (POT ``reg``; ott-jax ``PointCloud(x, y,
epsilon=...)``, whose default is relative, ``0.05 * mean(C)``, so pass it explicitly).
``block_size`` plays the role of ott-jax's ``PointCloud(batch_size=...)`` (broken in ott-jax 0.6.0
with jax >= 0.10, see :mod:`wassml.ot.ott_adapter`); POT's ``ot.bregman.empirical_sinkhorn``
with ``isLazy=True, batchSize=...`` is the NumPy analogue.
"""

from __future__ import annotations

import functools
from typing import Optional, Tuple, Union

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from wassml.ot.checks import float_dtype
from wassml.ot.costs import check_point_clouds
from wassml.ot.iteration import default_tol, iterate
from wassml.ot.result import OTResult
from wassml.utils import checks as uc
from wassml.utils import linalg

COSTS = ("sqeuclidean", "euclidean_power")
DEFAULT_BLOCK_SIZE = 1024

Potentials = Union[OTResult, Tuple[ArrayLike, ArrayLike]]

__all__ = ["COSTS", "apply_plan", "online_sinkhorn", "online_sinkhorn_loss"]


# ----------------------------------------------------------------------------- tiles
def _tile_cost(xb, y, y_sq, cost, p):
  """``[B, m]`` cost between a block ``xb: [B, d]`` and ``y: [m, d]`` (``y_sq = |y|^2``)."""
  x_sq = jnp.sum(xb * xb, -1)
  sq = jnp.maximum(x_sq[:, None] + y_sq[None, :] - 2.0 * linalg.matmul(xb, y.T), 0.0)
  if cost == "sqeuclidean":
    return sq
  pos = sq > 0
  safe = jnp.where(pos, sq, 1.0)
  return jnp.where(pos, safe ** (p / 2.0), 0.0)


def _safe_log(w):
  return jnp.where(w > 0, jnp.log(jnp.where(w > 0, w, 1.0)), -jnp.inf)


def _weighted_lse(z, w):
  """``log sum_j w_j exp(z_ij)`` along axis 1 for weights ``w >= 0`` (not all zero).

  The shift is the max over positive-weight entries; zero-weight entries add nothing to the
  value, and their gradient in ``w_j`` is the exact ``exp(z_ij) / sum`` (not the 0 that putting
  ``log w_j = -inf`` into a logsumexp would give) whenever ``z_ij`` is below that max (always, in
  practice: the exponent is clipped at the max so that a zero weight never makes ``0 * inf``).
  """
  pos = (w > 0)[None, :]
  mx = jnp.max(jnp.where(pos, z, -jnp.inf), axis=1, keepdims=True)
  mx = jax.lax.stop_gradient(jnp.where(jnp.isfinite(mx), mx, 0.0))
  d = z - mx
  e = jnp.exp(jnp.where(pos, d, jnp.minimum(d, 0.0)))
  return mx[:, 0] + jnp.log(jnp.sum(w[None, :] * e, axis=1))


def _map_blocks(fn, rows, block):
  """``fn`` applied to blocks of ``block`` rows of the row-aligned arrays ``rows``.

  Pads the rows to a multiple of ``block`` with zeros, runs ``lax.map`` over the blocks (each
  block under ``jax.checkpoint``, so reverse mode saves the block's inputs, not its tile), and
  slices the padded outputs off. ``fn(*row_blocks) -> [B, ...]``.
  """
  n = rows[0].shape[0]
  nb = -(-n // block)
  pad = nb * block - n
  blocked = tuple(
      jnp.pad(r, [(0, pad)] + [(0, 0)] * (r.ndim - 1)).reshape((nb, block) + r.shape[1:])
      for r in rows)
  out = jax.lax.map(jax.checkpoint(lambda rs: fn(*rs)), blocked)
  return jax.tree_util.tree_map(lambda o: o.reshape((nb * block,) + o.shape[2:])[:n], out)


def _ctransform(pts, other, w_other, pot_other, eps, cost, p, block):
  """``-eps log sum_l w_l exp((pot_l - c(pts_k, other_l)) / eps)`` for every ``pts_k``."""
  other_sq = jnp.sum(other * other, -1)

  def body(pb):
    c = _tile_cost(pb, other, other_sq, cost, p)
    return -eps * _weighted_lse((pot_other[None, :] - c) / eps, w_other)

  return _map_blocks(body, (pts,), block)


def _plan_tile(c, log_w_rows, pot_rows, log_w_cols, pot_cols, eps):
  return jnp.exp(log_w_rows[:, None] + log_w_cols[None, :]
                 + (pot_rows[:, None] + pot_cols[None, :] - c) / eps)


def _transport_cost(x, y, a, b, f, g, eps, cost, p, block):
  """``<P, C>`` by row blocks, with ``P`` held fixed (``d/dC = P``)."""
  y_sq = jnp.sum(y * y, -1)
  log_b = _safe_log(b)
  sg = jax.lax.stop_gradient

  def body(xb, lab, fb):
    c = _tile_cost(xb, y, y_sq, cost, p)
    P = _plan_tile(sg(c), lab, fb, log_b, g, eps)
    return jnp.sum(sg(P) * c, axis=1)

  return jnp.sum(_map_blocks(body, (x, _safe_log(a), f), block))


# ----------------------------------------------------------------------------- solver
@functools.partial(
    jax.jit, static_argnames=("cost", "p", "block_size", "num_iters", "tol", "check_every"))
def _online_sinkhorn(x, y, a, b, epsilon, init, cost, p, block_size, num_iters, tol,
                     check_every):
  eps = epsilon
  sg = jax.lax.stop_gradient
  xs, ys, as_, bs, es = sg(x), sg(y), sg(a), sg(b), sg(eps)
  bx = min(block_size, x.shape[0])
  by = min(block_size, y.shape[0])

  def t_rows(g):   # f~ = T_b(g): [n]
    return _ctransform(xs, ys, bs, g, es, cost, p, bx)

  def t_cols(f):   # g~ = T_a(f): [m]
    return _ctransform(ys, xs, as_, f, es, cost, p, by)

  g0 = jnp.zeros_like(b) if init is None else sg(init[1])
  f0 = t_rows(g0)

  # State (f, g, f~) with g = T_a(f) (columns exact) and f~ = T_b(g) (the next f update, which
  # gives the row error for free).
  def step(state):
    _, _, fn = state
    g = t_cols(fn)
    return fn, g, t_rows(g)

  def error(_, state):
    f, _, fn = state
    return jnp.sum(as_ * jnp.abs(jnp.expm1((f - fn) / es)))

  # The step reads only f~, so the first iteration is this f update plus the loop's first g
  # update: k iterations cost 2k + 1 transforms (the dense solver's 2k plus its k / check_every
  # error checks).
  (f, g, _), iters, err = iterate(step, error, (f0, g0, f0), num_iters=num_iters, tol=tol,
                                  check_every=check_every)
  f, g = sg(f), sg(g)
  transport = _transport_cost(x, y, a, b, f, g, eps, cost, p, bx)
  # Envelope objective: one more soft c-transform on the differentiable inputs.
  f_diff = _ctransform(x, y, b, g, eps, cost, p, bx)
  objective = (jnp.sum(a * f_diff) + jnp.sum(b * g)
               + eps * (jnp.sum(a) * jnp.sum(b) - jnp.sum(a)))
  return OTResult(transport_cost=transport, plan=None, objective=objective, f=f, g=g,
                  converged=err <= tol, num_iters=iters, error=err)


def _prepare_weights(w, size, name, dt):
  if w is None:
    return jnp.full((size,), 1.0 / size, dt)
  uc.check_floating_or_int(w, name)
  if jnp.ndim(w) != 1 or jnp.shape(w)[0] != size:
    raise ValueError(f"{name} must have shape ({size},) to match the {size} points, got "
                     f"{tuple(jnp.shape(w))}.")
  uc.check_nonnegative(w, name)
  uc.check_finite(w, name)
  uc.check_sums_to_one(w, name)
  return jnp.asarray(w, dt)


def _prepare_clouds(x, y, a, b):
  for v, name in ((x, "x"), (y, "y")):
    uc.check_floating_or_int(v, name)
  check_point_clouds(x, y)
  if jnp.shape(x)[0] == 0 or jnp.shape(y)[0] == 0:
    raise ValueError(f"x and y must be non-empty, got x {tuple(jnp.shape(x))} and y "
                     f"{tuple(jnp.shape(y))}.")
  uc.check_finite(x, "x")
  uc.check_finite(y, "y")
  dt = float_dtype(x, y, a, b)
  n, m = jnp.shape(x)[0], jnp.shape(y)[0]
  return (jnp.asarray(x, dt), jnp.asarray(y, dt), _prepare_weights(a, n, "a", dt),
          _prepare_weights(b, m, "b", dt), dt)


def _check_cost(cost, p, block_size):
  if cost not in COSTS:
    raise ValueError(f"cost must be one of {COSTS}, got {cost!r}.")
  if cost == "euclidean_power" and not (np.isfinite(p) and p > 0):
    raise ValueError(f"p must be a finite number > 0, got {p!r}.")
  if isinstance(block_size, bool) or int(block_size) != block_size or int(block_size) < 1:
    raise ValueError(f"block_size must be an integer >= 1, got {block_size!r}.")


def _unpack_potentials(pot, n, m, name):
  f, g = (pot.f, pot.g) if isinstance(pot, OTResult) else pot
  for v, size, label in ((f, n, f"{name}[0] (f)"), (g, m, f"{name}[1] (g)")):
    if tuple(jnp.shape(v)) != (size,):
      raise ValueError(f"{label} must have shape ({size},), got {tuple(jnp.shape(v))}.")
  uc.check_finite(f, f"{name}[0] (f)")
  uc.check_finite(g, f"{name}[1] (g)")
  return f, g


def online_sinkhorn(
    x: ArrayLike,
    y: ArrayLike,
    a: Optional[ArrayLike] = None,
    b: Optional[ArrayLike] = None,
    *,
    epsilon: float,
    cost: str = "sqeuclidean",
    p: float = 2.0,
    block_size: int = DEFAULT_BLOCK_SIZE,
    num_iters: int = 1000,
    tol: Optional[float] = None,
    check_every: int = 10,
    init: Optional[Potentials] = None,
) -> OTResult:
  """Balanced entropic OT between point clouds without the ``n x m`` matrix.

  Solves ``min_{P 1 = a, P^T 1 = b} <P, C> + eps KL(P | a b^T)`` with ``C_ij = c(x_i, y_j)``,
  by log-domain Sinkhorn whose soft c-transforms run over blocks of ``block_size`` points (see
  the module docstring). Same plan, potentials and values as ``wassml.ot.sinkhorn(C, a, b,
  epsilon=epsilon, mode="log")`` on the dense cost (POT ``ot.sinkhorn(a, b, C, reg=epsilon)``;
  ott-jax ``Sinkhorn()(LinearProblem(PointCloud(x, y, epsilon=epsilon), a, b))``).

  Args:
    x: ``[n, d]`` source points.
    y: ``[m, d]`` target points.
    a: ``[n]`` probability vector, uniform if None.
    b: ``[m]`` probability vector, uniform if None.
    epsilon: absolute entropic regularisation (not relative to the mean cost).
    cost: ``"sqeuclidean"`` (``||x - y||^2``) or ``"euclidean_power"`` (``||x - y||^p``).
    p: exponent of ``"euclidean_power"`` (> 0; ignored for ``"sqeuclidean"``).
    block_size: points per block of a soft c-transform (static); peak memory is about
      ``block_size * max(n, m)`` floats per live tile. Blocks are ``min(block_size, n)`` rows
      for the ``f`` update and ``min(block_size, m)`` for the ``g`` update.
    num_iters: hard maximum of iterations (one iteration = an ``f`` and a ``g`` update).
    tol: stop when ``||P 1 - a||_1 <= tol``; default ``wassml.ot.iteration.default_tol``
      (1e-5 float32, 1e-9 float64).
    check_every: evaluate the criterion every this many iterations (it is free here: the
      row error is read off the next ``f`` update).
    init: warm start, an ``OTResult`` or ``(f, g)`` in this solver's convention (potentials
      relative to ``a b^T``, e.g. from a previous solve on nearby points). The iteration starts
      with an ``f`` update from ``g``, so only ``g`` seeds it (``f`` is checked for shape only).
      Gradients never flow into ``init``.

  Returns:
    :class:`OTResult` with ``plan=None`` (the plan is never formed: use :func:`apply_plan`),
    ``transport_cost = <P, C>`` (by blocks; gradient with ``P`` fixed), ``objective`` the
    envelope objective of the module docstring (value ``<f, a> + <g, b>``, gradient the
    envelope gradient in ``x, y, a, b``), ``f: [n]``, ``g: [m]`` with
    ``P = a b^T exp((f + g - C)/eps)`` (columns exact, rows within ``error``; the gradients of
    ``f, g`` are stopped), ``converged``, ``num_iters``, ``error``.

    Under ``jit`` the input checks are skipped: a NaN/inf point or weight makes the potentials
    and ``error`` NaN, so the loop runs ``num_iters`` iterations and returns
    ``converged=False`` (it never hangs).

  Raises:
    ValueError: (eagerly, concrete inputs) wrong shapes, mismatched dimensions, empty or
      non-finite clouds, negative/NaN weights or weights not summing to 1, ``epsilon <= 0``,
      an unknown ``cost``, ``p <= 0``, ``block_size``/``num_iters``/``check_every`` < 1, or
      ``init`` of the wrong shape.

  Examples:
    >>> import jax
    >>> from wassml import ot
    >>> x = jax.random.normal(jax.random.key(0), (500, 3))
    >>> res = ot.online_sinkhorn(x, x + 1.0, epsilon=1.0, block_size=128)   # 4 blocks of x
    >>> # W_2^2 of the shift is 3; the entropic plan (eps = 1) blurs it, so <P, C> > 3.
    >>> bool(res.converged), res.plan is None, round(float(res.transport_cost), 2)
    (True, True, 4.24)
  """
  x, y, a, b, dt = _prepare_clouds(x, y, a, b)
  uc.check_positive_scalar(epsilon, "epsilon")
  _check_cost(cost, p, block_size)
  if int(num_iters) < 1:
    raise ValueError(f"num_iters must be >= 1, got {num_iters!r}.")
  if int(check_every) < 1:
    raise ValueError(f"check_every must be >= 1, got {check_every!r}.")
  if init is not None:
    f0, g0 = _unpack_potentials(init, x.shape[0], y.shape[0], "init")
    init = (jnp.asarray(f0, dt), jnp.asarray(g0, dt))
  tol = default_tol(dt) if tol is None else float(tol)
  return _online_sinkhorn(x, y, a, b, jnp.asarray(epsilon, dt), init, cost,
                          float(p) if cost == "euclidean_power" else 2.0, int(block_size),
                          int(num_iters), tol, int(check_every))


def online_sinkhorn_loss(
    x: ArrayLike,
    y: ArrayLike,
    a: Optional[ArrayLike] = None,
    b: Optional[ArrayLike] = None,
    *,
    return_output: bool = False,
    **kwargs,
):
  """``OT_eps(a, b)`` between point clouds, differentiable by the envelope theorem.

  ``online_sinkhorn(x, y, a, b, **kwargs).objective``: value ``<f, a> + <g, b>``; ``jax.grad``
  in ``x`` gives ``sum_j P_ij grad_x c(x_i, y_j)`` (``2 sum_j P_ij (x_i - y_j)`` for the squared
  Euclidean cost), in ``y`` likewise, in ``a`` and ``b`` the potentials ``f`` and ``g``, without
  differentiating through the iterations and without an ``n x m`` array (forward or backward).
  The gradient is exact at convergence; with a loose ``tol`` it is that of the returned plan.

  Args:
    x, y, a, b: as :func:`online_sinkhorn`.
    return_output: also return the :class:`OTResult`.
    **kwargs: keyword settings of :func:`online_sinkhorn` (``epsilon`` required).

  Returns:
    The scalar objective, or ``(objective, OTResult)`` with ``return_output=True``.
  """
  out = online_sinkhorn(x, y, a, b, **kwargs)
  return (out.objective, out) if return_output else out.objective


# ----------------------------------------------------------------------------- plan products
@functools.partial(jax.jit, static_argnames=("cost", "p", "block_size", "transpose"))
def _apply_plan(f, g, x, y, a, b, vec, epsilon, cost, p, block_size, transpose):
  if transpose:   # P^T vec = (plan of the swapped problem) vec
    x, y, a, b, f, g = y, x, b, a, g, f
  y_sq = jnp.sum(y * y, -1)
  log_b = _safe_log(b)
  squeeze = vec.ndim == 1
  v = vec[:, None] if squeeze else vec

  def body(xb, lab, fb):
    P = _plan_tile(_tile_cost(xb, y, y_sq, cost, p), lab, fb, log_b, g, epsilon)
    return linalg.matmul(P, v)

  out = _map_blocks(body, (x, _safe_log(a), f), min(block_size, x.shape[0]))
  return out[:, 0] if squeeze else out


def apply_plan(
    potentials: Potentials,
    x: ArrayLike,
    y: ArrayLike,
    vec: ArrayLike,
    a: Optional[ArrayLike] = None,
    b: Optional[ArrayLike] = None,
    *,
    epsilon: float,
    cost: str = "sqeuclidean",
    p: float = 2.0,
    block_size: int = DEFAULT_BLOCK_SIZE,
    transpose: bool = False,
) -> jax.Array:
  """``P @ vec`` (or ``P^T @ vec``) for ``P = a b^T exp((f + g - C)/eps)``, by blocks.

  Never forms ``P``: each block of ``block_size`` rows builds its ``[block, m]`` tile of the
  cost and the plan and multiplies it into ``vec``. Memory ``O(block_size * max(n, m))``.
  ``apply_plan(res, x, y, jnp.ones(m), epsilon=e)`` is the row marginal ``P 1`` (``~a``) and,
  e.g., ``apply_plan(res, x, y, y, epsilon=e) / a[:, None]`` the barycentric projection of
  ``x``. Differentiable in ``x, y, vec`` and the potentials (with the potentials held as given).

  Args:
    potentials: an :class:`OTResult` of :func:`online_sinkhorn` or a pair ``(f, g)``
      (``[n]``, ``[m]``, relative to ``a b^T``).
    x: ``[n, d]`` source points; y: ``[m, d]`` target points (those of the solve).
    vec: ``[m]`` or ``[m, k]`` (``transpose=False``), ``[n]`` or ``[n, k]`` (``transpose=True``).
    a, b: the weights of the solve (uniform if None).
    epsilon, cost, p: those of the solve.
    block_size: points per block (static).
    transpose: compute ``P^T @ vec`` (blocks over ``y``).

  Returns:
    ``[n]``/``[n, k]`` (or ``[m]``/``[m, k]`` with ``transpose=True``).

  Raises:
    ValueError: as :func:`online_sinkhorn`, and when ``vec``'s leading dimension does not match.
  """
  x, y, a, b, dt = _prepare_clouds(x, y, a, b)
  uc.check_positive_scalar(epsilon, "epsilon")
  _check_cost(cost, p, block_size)
  n, m = x.shape[0], y.shape[0]
  f, g = _unpack_potentials(potentials, n, m, "potentials")
  want = n if transpose else m
  if jnp.ndim(vec) not in (1, 2) or jnp.shape(vec)[0] != want:
    raise ValueError(f"vec must have shape ({want},) or ({want}, k) for "
                     f"{'P^T' if transpose else 'P'} @ vec with P of shape {(n, m)}, got "
                     f"{tuple(jnp.shape(vec))}.")
  vec = jnp.asarray(vec, jnp.result_type(dt, vec))
  return _apply_plan(jnp.asarray(f, dt), jnp.asarray(g, dt), x, y, a, b, vec,
                     jnp.asarray(epsilon, dt), cost,
                     float(p) if cost == "euclidean_power" else 2.0, int(block_size),
                     bool(transpose))
