"""Minibatch OT estimators (Fatras et al.).

For uniform point clouds ``x: [n, d]``, ``y: [n', d]`` and an OT kernel ``h``
(any solver), with minibatches ``I, J`` of ``m`` points drawn without
replacement:

- complete estimator ``h̄^m = C(n,m)^-2 sum_{I,J} h(C_{I,J})`` and its plan
  ``Pi^m = C(n,m)^-2 sum_{I,J} Pi_{I,J}`` (``Pi_{I,J}`` is the minibatch plan
  embedded in ``[n, n']``); ``Pi^m`` has marginals ``1/n``, ``1/n'``;
- incomplete estimator ``h̃_k^m = k^-1 sum_{(I,J) in D_k} h(C_{I,J})`` over ``k``
  random pairs, unbiased for ``E_h``.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from typing import Callable

import flax
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from wassml.ot.costs import check_point_clouds, sqeuclidean
from wassml.ot.result import OTResult

Solver = Callable[..., OTResult]
CostFn = Callable[[jax.Array, jax.Array], jax.Array]
VALUES = ("cost", "objective")
_FIELDS = {"cost": "transport_cost", "objective": "objective"}


@flax.struct.dataclass
class MinibatchOutput:
  """What a minibatch OT estimator averaged (a pytree, so it passes through jit/vmap).

  Attributes:
    plan: ``[n, n']`` averaged plan ``Pi``: the mean of the minibatch plans embedded in the
      full index space (total mass 1 for balanced solvers; for the complete estimator its
      marginals are ``1/n`` and ``1/n'``).
    values: ``[k]`` the per-pair values ``h(C_{I_k, J_k})`` whose mean is the estimate.
    x_indices: ``[k, m]`` int, the rows ``I_k`` of ``x`` in each minibatch.
    y_indices: ``[k, m]`` int, the rows ``J_k`` of ``y`` in each minibatch.
    converged: ``[k]`` bool, each minibatch solve's ``OTResult.converged``.
  """

  plan: jax.Array
  values: jax.Array
  x_indices: jax.Array
  y_indices: jax.Array
  converged: jax.Array


def _check(x, y, batch_size, value):
  check_point_clouds(x, y)
  n, n2 = np.shape(x)[0], np.shape(y)[0]
  if not 1 <= int(batch_size) <= min(n, n2):
    raise ValueError(
        f"batch_size must be in [1, min(n, n')] = [1, {min(n, n2)}], got {batch_size!r}.")
  if value not in VALUES:
    raise ValueError(f"value must be one of {VALUES}, got {value!r}.")


def _solve_pairs(x, y, I, J, solver, cost_fn, value, return_output):
  """Solves the minibatch problems ``(x[I_k], y[J_k])`` in one vmapped call."""
  field = _FIELDS[value]

  def one(i, j):
    res = solver(cost_fn(x[i], y[j]), None, None)
    return getattr(res, field), res.plan, res.converged

  vals, plans, converged = jax.vmap(one)(I, J)
  mean = jnp.mean(vals)
  if not return_output:
    return mean
  k = I.shape[0]
  Pi = jnp.zeros((x.shape[0], y.shape[0]), plans.dtype)
  Pi = Pi.at[I[:, :, None], J[:, None, :]].add(plans) / k
  return mean, MinibatchOutput(plan=Pi, values=vals, x_indices=I, y_indices=J,
                               converged=converged)


def minibatch_ot(
    rng: jax.Array,
    x: ArrayLike,
    y: ArrayLike,
    *,
    batch_size: int,
    num_batches: int,
    solver: Solver,
    cost_fn: CostFn = sqeuclidean,
    value: str = "cost",
    return_output: bool = False,
):
  """Incomplete minibatch OT estimator ``h̃_k^m`` (k = ``num_batches``).

  Draws ``num_batches`` pairs of minibatches (``batch_size`` points of ``x``
  and of ``y``, each without replacement) and solves all the ``[m, m]``
  problems in one ``jax.vmap`` of ``solver(cost, None, None)`` (uniform weights).

  Args:
    rng: ``jax.random.key``.
    x: ``[n, d]`` source points.
    y: ``[n', d]`` target points.
    batch_size: ``m``.
    num_batches: ``k``.
    solver: ``solver(cost, a, b) -> OTResult``, e.g.
      ``functools.partial(wassml.ot.sinkhorn, epsilon=0.1)`` or ``wassml.ot.emd``.
    cost_fn: ``cost_fn(x_I, y_J) -> [m, m]``.
    value: which field of the result to average: ``"cost"`` (``transport_cost``,
      ``<P, C>``) or ``"objective"``.
    return_output: also return a :class:`MinibatchOutput` with the averaged plan
      ``Pi: [n, n']`` and the per-pair values.

  Returns:
    scalar estimate; with ``return_output=True``, ``(estimate, MinibatchOutput)``, whose
    ``plan`` is the average of the minibatch plans embedded in the full index space
    (total mass 1 for a balanced solver) and ``values: [k]`` the per-pair values.
  Examples:
    >>> import jax
    >>> from wassml import ot
    >>> x = jax.random.normal(jax.random.key(0), (40, 2))
    >>> value, out = ot.minibatch_ot(jax.random.key(1), x, x + 1.0, batch_size=8,
    ...                              num_batches=16, solver=ot.emd, return_output=True)
    >>> out.plan.shape, round(float(out.plan.sum()), 4), out.values.shape
    ((40, 40), 1.0, (16,))
  """
  _check(x, y, batch_size, value)
  if int(num_batches) < 1:
    raise ValueError(f"num_batches must be >= 1, got {num_batches!r}.")
  x = jnp.asarray(x)
  y = jnp.asarray(y)
  n, n2 = x.shape[0], y.shape[0]
  m, k = int(batch_size), int(num_batches)
  kx, ky = jax.random.split(rng)
  draw = lambda key, size: jax.vmap(lambda kk: jax.random.permutation(kk, size)[:m])(
      jax.random.split(key, k))
  I = draw(kx, n)
  J = draw(ky, n2)
  return _solve_pairs(x, y, I, J, solver, cost_fn, value, return_output)


def complete_minibatch_ot(
    x: ArrayLike,
    y: ArrayLike,
    *,
    batch_size: int,
    solver: Solver,
    cost_fn: CostFn = sqeuclidean,
    value: str = "cost",
    max_pairs: int = 100_000,
    return_output: bool = False,
):
  """Complete minibatch OT estimator ``h̄^m`` over all ``C(n,m) C(n',m)`` pairs.

  Only for tiny ``n`` (the number of pairs explodes); raises ValueError beyond
  ``max_pairs``. Arguments and returns as :func:`minibatch_ot` (``k = C(n,m) C(n',m)``);
  with ``return_output=True`` the output's plan ``Pi^m: [n, n']`` is admissible for a
  balanced solver: marginals ``1/n`` and ``1/n'``.
  """
  _check(x, y, batch_size, value)
  x = jnp.asarray(x)
  y = jnp.asarray(y)
  n, n2, m = x.shape[0], y.shape[0], int(batch_size)
  num = math.comb(n, m) * math.comb(n2, m)
  if num > max_pairs:
    raise ValueError(
        f"complete_minibatch_ot needs C({n},{m}) * C({n2},{m}) = {num} minibatch pairs, more "
        f"than max_pairs={max_pairs}; use minibatch_ot (incomplete estimator) instead.")
  sx = np.array(list(itertools.combinations(range(n), m)), np.int32)
  sy = np.array(list(itertools.combinations(range(n2), m)), np.int32)
  I = jnp.asarray(np.repeat(sx, len(sy), axis=0))
  J = jnp.asarray(np.tile(sy, (len(sx), 1)))
  return _solve_pairs(x, y, I, J, solver, cost_fn, value, return_output)


def minibatch_plan_1d(n: int, m: int) -> jax.Array:
  """Closed-form complete minibatch plan for sorted 1-D uniform data.

  For ``x_1 <= ... <= x_n`` and ``y_1 <= ... <= y_n`` (uniform weights), the
  minibatch OT plan pairs the ``i``-th smallest of each minibatch, so
  (1-based indices ``j, k``)::

    pi_{j,k} = (1/m) C(n,m)^-2 sum_{i=i_min}^{i_max}
               C(j-1, i-1) C(k-1, i-1) C(n-j, m-i) C(n-k, m-i),
    i_min = max(1, m-n+j, m-n+k),  i_max = min(j, k, m).

  (METHODS.md writes ``i_min = max(0, ...)``; the ``i = 0`` term is zero since
  ``C(j-1, -1) = 0``, and terms with ``i > m`` vanish too.) Computed in exact
  rational arithmetic, then rounded.

  Args:
    n: number of points per distribution.
    m: minibatch size, ``1 <= m <= n``.

  Returns:
    ``[n, n]`` plan with marginals ``1/n``.
  Examples:
    >>> from wassml import ot
    >>> plan = ot.minibatch_plan_1d(4, 4)  # m = n: the full 1-D plan, the identity / n
    >>> plan.round(3).tolist()
    [[0.25, 0.0, 0.0, 0.0], [0.0, 0.25, 0.0, 0.0], [0.0, 0.0, 0.25, 0.0], [0.0, 0.0, 0.0, 0.25]]
  """
  n, m = int(n), int(m)
  if not 1 <= m <= n:
    raise ValueError(f"need 1 <= m <= n, got n={n}, m={m}.")
  norm = Fraction(1, m * math.comb(n, m) ** 2)
  out = np.zeros((n, n))
  for j in range(1, n + 1):
    for k in range(1, n + 1):
      lo = max(1, m - n + j, m - n + k)
      hi = min(j, k, m)
      s = 0
      for i in range(lo, hi + 1):
        s += (math.comb(j - 1, i - 1) * math.comb(k - 1, i - 1) * math.comb(n - j, m - i)
              * math.comb(n - k, m - i))
      out[j - 1, k - 1] = float(norm * s)
  return jnp.asarray(out)
