"""Reproducible illustrations of minibatch OT theory (Fatras et al., seed 004).

Each function computes the numbers behind one figure; ``plot_*`` functions in
``experiments/generative/figures.py`` draw them.

- ``plan_1d_comparison``: the closed-form complete minibatch plan ``Pi^m`` for sorted 1-D uniform
  data beside the empirical average of ``k`` random minibatch plans.
- ``class_connections``: two balanced classes per domain; the averaged balanced minibatch plan
  sends mass between classes, the unbalanced one much less.
- ``deviation_curve``: ``|h~_k^m - E_h|`` against ``k`` for several ``m``, beside the deviation bound
  ``M (sqrt(log(2/delta) / (2 floor(n/m))) + sqrt(2 log(2/delta) / k))``.
- ``bias_curve``: ``E_h(a, a) > 0`` (minibatch OT is not a distance) against ``m``.
"""

from __future__ import annotations

import functools
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from wassml import ot


def deviation_bound(n: int, m: int, k: np.ndarray, *, max_cost: float, delta: float = 0.1) -> np.ndarray:
  """The maximal-deviation bound of the incomplete estimator (seed 004, Theorem, eq. 2)."""
  k = np.asarray(k, dtype=np.float64)
  log_term = np.log(2.0 / delta)
  return max_cost * (np.sqrt(log_term / (2.0 * (n // m))) + np.sqrt(2.0 * log_term / k))


def plan_1d_comparison(rng: jax.Array, n: int, batch_sizes: Sequence[int], num_batches: int
                       ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
  """Closed-form vs empirical minibatch plans for sorted 1-D uniform data.

  Returns:
    ``{m: (closed_form [n, n], empirical [n, n])}``; both are ``n x n`` plans with marginals
    ``1/n`` (the empirical one up to sampling noise).
  """
  x = jnp.linspace(0.0, 1.0, n)[:, None]
  y = jnp.linspace(0.0, 1.0, n)[:, None] + 0.5
  out = {}
  for i, m in enumerate(batch_sizes):
    closed = np.asarray(ot.minibatch_plan_1d(n, m))
    _, mb = ot.minibatch_ot(jax.random.fold_in(rng, i), x, y, batch_size=m,
                            num_batches=num_batches, solver=ot.emd, return_output=True)
    out[m] = (closed, np.asarray(mb.plan))
  return out


def two_class_domains(rng: jax.Array, n_per_class: int) -> tuple[jax.Array, jax.Array, np.ndarray]:
  """The seed's toy: two balanced classes in each domain, in separate clusters.

  Returns:
    ``(source [2n, 2], target [2n, 2], labels [2n])``; the same labels hold in both domains and
    the target is the source shifted to the right.
  """
  k1, k2 = jax.random.split(rng)
  centers = jnp.array([[0.0, 0.0], [0.0, 3.0]])
  labels = np.repeat(np.arange(2), n_per_class)
  source = centers[labels] + 0.3 * jax.random.normal(k1, (2 * n_per_class, 2))
  target = centers[labels] + jnp.array([2.0, 0.0]) + 0.3 * jax.random.normal(k2, (2 * n_per_class, 2))
  return source, target, labels


def cross_class_mass(plan: np.ndarray, labels_source: np.ndarray, labels_target: np.ndarray) -> float:
  """Fraction of the plan's mass that connects different classes."""
  plan = np.asarray(plan)
  mismatch = labels_source[:, None] != labels_target[None, :]
  return float(plan[mismatch].sum() / plan.sum())


def class_connections(rng: jax.Array, *, n_per_class: int = 20, batch_size: int = 10,
                      num_batches: int = 500, epsilon: float = 0.1, rho: float = 0.1
                      ) -> dict[str, object]:
  """Averaged minibatch plans on the two-class toy, balanced (exact) vs unbalanced.

  Returns:
    A dict with the data, both averaged plans and their cross-class mass fractions.
  """
  data_rng, mb_rng = jax.random.split(rng)
  xs, xt, labels = two_class_domains(data_rng, n_per_class)
  cost_scale = float(jnp.max(ot.sqeuclidean(xs, xt)))
  # Costs normalised by their max (as the JUMBOT code does), so eps and rho are relative.
  cost_fn = lambda a, b: ot.sqeuclidean(a, b) / cost_scale
  solvers = {
      "balanced": ot.emd,
      "unbalanced": functools.partial(ot.unbalanced_sinkhorn, epsilon=epsilon, rho=rho),
  }
  out: dict[str, object] = {"source": np.asarray(xs), "target": np.asarray(xt), "labels": labels}
  for name, solver in solvers.items():
    _, mb = ot.minibatch_ot(mb_rng, xs, xt, batch_size=batch_size, num_batches=num_batches,
                            solver=solver, cost_fn=cost_fn, return_output=True)
    plan = np.asarray(mb.plan)
    out[f"{name}_plan"] = plan
    out[f"{name}_cross_class_mass"] = cross_class_mass(plan, labels, labels)
    out[f"{name}_total_mass"] = float(plan.sum())
  return out


def deviation_curve(rng: jax.Array, *, n: int = 100, batch_sizes: Sequence[int] = (5, 10, 20),
                    ks: Sequence[int] = (1, 2, 5, 10, 20, 50, 100), reference_batches: int = 4000,
                    repeats: int = 20, delta: float = 0.1) -> dict[str, object]:
  """Deviation of the incomplete estimator from ``E_h`` against ``k`` and ``m``.

  ``E_h`` is itself estimated by the incomplete estimator with ``reference_batches`` pairs (the
  complete estimator has ``C(n, m)^2`` terms); the reported deviation is the ``1 - delta``
  quantile over ``repeats`` independent draws of ``D_k``, the quantity the bound controls.

  Returns:
    ``{"ks", "batch_sizes", "deviation": {m: [len(ks)]}, "bound": {m: [len(ks)]}, "max_cost"}``.
  """
  data_rng, rng = jax.random.split(rng)
  kx, ky = jax.random.split(data_rng)
  x = jax.random.normal(kx, (n, 2))
  y = jax.random.normal(ky, (n, 2)) + jnp.array([1.0, 0.0])
  max_cost = float(jnp.max(ot.sqeuclidean(x, y)))
  deviation, bound = {}, {}
  for i, m in enumerate(batch_sizes):
    mrng, ref_rng = jax.random.split(jax.random.fold_in(rng, i))
    reference = float(ot.minibatch_ot(ref_rng, x, y, batch_size=m,
                                      num_batches=reference_batches, solver=ot.emd))
    devs = []
    for k in ks:
      keys = jax.random.split(jax.random.fold_in(mrng, k), repeats)
      values = jax.vmap(lambda key: ot.minibatch_ot(key, x, y, batch_size=m, num_batches=k,
                                                    solver=ot.emd))(keys)
      devs.append(float(np.quantile(np.abs(np.asarray(values) - reference), 1.0 - delta)))
    deviation[m] = devs
    bound[m] = deviation_bound(n, m, np.asarray(ks), max_cost=max_cost, delta=delta).tolist()
  return {"ks": list(ks), "batch_sizes": list(batch_sizes), "deviation": deviation,
          "bound": bound, "max_cost": max_cost, "delta": delta}


def bias_curve(rng: jax.Array, *, n: int = 64, batch_sizes: Sequence[int] = (2, 4, 8, 16, 32, 64),
               num_batches: int = 200) -> dict[str, list]:
  """``E_h(a, a)`` for the same sample on both sides, against ``m``: positive for ``m < n``."""
  data_rng, rng = jax.random.split(rng)
  x = jax.random.normal(data_rng, (n, 2))
  values = [float(ot.minibatch_ot(jax.random.fold_in(rng, m), x, x, batch_size=m,
                                  num_batches=num_batches, solver=ot.emd))
            for m in batch_sizes]
  return {"batch_sizes": list(batch_sizes), "h_aa": values}
