"""Minibatch OT: closed-form 1-D plan vs brute force, complete plan marginals,
incomplete estimator."""

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import ot  # POT: independent reference only.
import pytest

import wassml.ot as wot
from tests.x64 import x64_mode


def _brute_force_plan(x, y, m):
  """Average of POT minibatch plans over all pairs of m-subsets."""
  n = len(x)
  plan = np.zeros((n, n))
  subsets = list(itertools.combinations(range(n), m))
  for I in subsets:
    for J in subsets:
      c = (x[list(I)][:, None] - y[list(J)][None, :]) ** 2
      plan[np.ix_(I, J)] += ot.emd(np.full(m, 1 / m), np.full(m, 1 / m), c)
  return plan / len(subsets) ** 2


@pytest.mark.parametrize("n,m", [(4, 1), (4, 2), (5, 2), (5, 3), (6, 4), (5, 5)])
def test_plan_1d_matches_brute_force(n, m):
  rng = np.random.default_rng(n * 10 + m)
  x = np.sort(rng.normal(size=n))
  y = np.sort(rng.normal(size=n) + 1.0)
  want = _brute_force_plan(x, y, m)
  got = np.asarray(wot.minibatch_plan_1d(n, m))
  np.testing.assert_allclose(got, want, atol=1e-7)
  np.testing.assert_allclose(got.sum(0), 1 / n, atol=1e-7)


def test_complete_estimator_plan_and_value(x64=None):
  with x64_mode():
    rng = np.random.default_rng(0)
    x = np.sort(rng.normal(size=6))[:, None]
    y = np.sort(rng.normal(size=6))[:, None]
    val, out = wot.complete_minibatch_ot(x, y, batch_size=3, solver=wot.emd,
                                         return_output=True)
    assert isinstance(out, wot.minibatch.MinibatchOutput)
    plan = np.asarray(out.plan)
    assert out.values.shape == (20 * 20,) and out.x_indices.shape == (400, 3)
    np.testing.assert_allclose(float(val), float(np.mean(np.asarray(out.values))), rtol=1e-12)
    # The default return is the scalar alone, the same number.
    np.testing.assert_allclose(
        float(wot.complete_minibatch_ot(x, y, batch_size=3, solver=wot.emd)), float(val))
    np.testing.assert_allclose(plan.sum(1), 1 / 6, atol=1e-12)
    np.testing.assert_allclose(plan.sum(0), 1 / 6, atol=1e-12)
    np.testing.assert_allclose(plan, np.asarray(wot.minibatch_plan_1d(6, 3)), atol=1e-12)
    # Value: mean of the minibatch OT costs, computed independently with POT.
    vals = []
    for I in itertools.combinations(range(6), 3):
      for J in itertools.combinations(range(6), 3):
        vals.append(ot.emd2([], [], ot.dist(x[list(I)], y[list(J)])))
    np.testing.assert_allclose(float(val), np.mean(vals), rtol=1e-10)


def test_complete_plan_marginals_2d_sinkhorn():
  rng = np.random.default_rng(1)
  x = rng.normal(size=(5, 2)).astype(np.float32)
  y = rng.normal(size=(6, 2)).astype(np.float32)
  solver = functools.partial(wot.sinkhorn, epsilon=0.5)
  _, out = wot.complete_minibatch_ot(x, y, batch_size=2, solver=solver, return_output=True)
  np.testing.assert_allclose(np.asarray(out.plan).sum(1), 1 / 5, atol=1e-5)
  np.testing.assert_allclose(np.asarray(out.plan).sum(0), 1 / 6, atol=1e-5)
  assert bool(np.all(np.asarray(out.converged)))
  # value="objective" averages the entropic objectives instead of <P, C>.
  obj, out_obj = wot.complete_minibatch_ot(x, y, batch_size=2, solver=solver, value="objective",
                                           return_output=True)
  assert float(obj) > float(np.mean(np.asarray(out.values)))
  np.testing.assert_allclose(np.asarray(out_obj.plan), np.asarray(out.plan), atol=1e-6)


def test_incomplete_estimator_matches_loop_and_converges():
  rng = np.random.default_rng(2)
  x = jnp.asarray(rng.normal(size=(8, 2)), jnp.float32)
  y = jnp.asarray(rng.normal(size=(8, 2)) + 1.0, jnp.float32)
  key = jax.random.key(0)
  val, out = wot.minibatch_ot(key, x, y, batch_size=3, num_batches=5, solver=wot.emd,
                              return_output=True)
  np.testing.assert_allclose(float(jnp.sum(out.plan)), 1.0, rtol=1e-6)
  assert out.values.shape == (5,)
  np.testing.assert_allclose(float(val), float(jnp.mean(out.values)), rtol=1e-6)
  # Recompute with the same index draws in a Python loop of POT.
  kx, ky = jax.random.split(key)
  I = [np.asarray(jax.random.permutation(k, 8)[:3]) for k in jax.random.split(kx, 5)]
  J = [np.asarray(jax.random.permutation(k, 8)[:3]) for k in jax.random.split(ky, 5)]
  np.testing.assert_array_equal(np.asarray(out.x_indices), np.stack(I))
  np.testing.assert_array_equal(np.asarray(out.y_indices), np.stack(J))
  xs, ys = np.asarray(x, np.float64), np.asarray(y, np.float64)
  per_pair = [ot.emd2([], [], ot.dist(xs[i], ys[j])) for i, j in zip(I, J)]
  np.testing.assert_allclose(np.asarray(out.values), per_pair, rtol=1e-5)
  np.testing.assert_allclose(float(val), np.mean(per_pair), rtol=1e-5)
  # Many batches: the incomplete estimate approaches the complete one.
  full = wot.complete_minibatch_ot(x[:6], y[:6], batch_size=2, solver=wot.emd)
  many = wot.minibatch_ot(key, x[:6], y[:6], batch_size=2, num_batches=4000, solver=wot.emd)
  np.testing.assert_allclose(float(many), float(full), rtol=0.05)


def test_minibatch_gradient_flows():
  rng = np.random.default_rng(3)
  x = jnp.asarray(rng.normal(size=(8, 2)), jnp.float32)
  y = jnp.asarray(rng.normal(size=(8, 2)), jnp.float32)
  solver = functools.partial(wot.unbalanced_sinkhorn, epsilon=0.1, rho=1.0)
  g = jax.grad(lambda x: wot.minibatch_ot(jax.random.key(1), x, y, batch_size=4,
                                          num_batches=3, solver=solver))(x)
  assert np.all(np.isfinite(np.asarray(g))) and float(jnp.abs(g).sum()) > 0


def test_bad_input():
  x = np.zeros((5, 2))
  with pytest.raises(ValueError, match="batch_size"):
    wot.minibatch_ot(jax.random.key(0), x, x, batch_size=6, num_batches=2, solver=wot.emd)
  with pytest.raises(ValueError, match="same dimension"):
    wot.minibatch_ot(jax.random.key(0), x, np.zeros((5, 3)), batch_size=2, num_batches=2,
                     solver=wot.emd)
  with pytest.raises(ValueError, match="max_pairs"):
    wot.complete_minibatch_ot(np.zeros((30, 1)), np.zeros((30, 1)), batch_size=10,
                              solver=wot.emd)
  with pytest.raises(ValueError, match="1 <= m <= n"):
    wot.minibatch_plan_1d(3, 4)
