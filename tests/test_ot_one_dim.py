"""Exact 1-D OT (``wasserstein_1d``) and the weighted sliced Wasserstein distance, against POT."""

import jax
import jax.numpy as jnp
import numpy as np
import ot  # POT: independent reference only.
import pytest

import wassml.ot as wot


def _problem(n, m, seed, ties=True):
  """Samples rounded to one decimal (ties within and across the two sides) and random
  non-uniform weights that sum to 1."""
  rng = np.random.default_rng(seed)
  x, y = rng.normal(size=n), rng.normal(size=m) + 0.3
  if ties:
    x, y = np.round(x, 1), np.round(y, 1)
    x[1] = x[0]
    y[-1] = x[2]
  a, b = rng.random(n) + 0.05, rng.random(m) + 0.05
  return x, y, a / a.sum(), b / b.sum()


def _cost(x, y, p):
  return np.abs(x[:, None] - y[None, :]) ** p


def _grouped(P, x, y):
  """The plan summed over groups of equal samples (unique even where ties make ``P`` not)."""
  ux, ix = np.unique(x, return_inverse=True)
  uy, iy = np.unique(y, return_inverse=True)
  G = np.zeros((len(ux), len(uy)))
  np.add.at(G, (ix[:, None], iy[None, :]), P)
  return G


SHAPES = [(7, 11), (13, 5)]
PS = [1.0, 2.0, 3.0]


@pytest.mark.parametrize("n, m", SHAPES)
@pytest.mark.parametrize("p", PS)
def test_value_and_plan_match_pot(x64, n, m, p):
  x, y, a, b = _problem(n, m, seed=n + m)
  value, out = wot.wasserstein_1d(x, y, a, b, p=p, return_output=True)
  np.testing.assert_allclose(float(value), ot.wasserstein_1d(x, y, a, b, p=p), rtol=1e-12)
  np.testing.assert_allclose(
      float(value), ot.emd2_1d(x, y, a, b, metric="minkowski", p=p), rtol=1e-12)
  P = np.asarray(out.plan)
  P_pot = ot.emd_1d(x, y, a, b, metric="minkowski", p=p)
  # Ties make the plan non-unique within groups of equal samples; the grouped plan is not.
  np.testing.assert_allclose(_grouped(P, x, y), _grouped(P_pot, x, y), atol=1e-12)
  np.testing.assert_allclose(P.sum(1), a, atol=1e-12)
  np.testing.assert_allclose(P.sum(0), b, atol=1e-12)
  assert P.min() >= 0
  np.testing.assert_allclose(np.sum(P * _cost(x, y, p)), float(value), rtol=1e-12)
  assert float(out.transport_cost) == float(out.objective) == float(value)
  assert bool(out.converged) and int(out.num_iters) == n + m - 1 and float(out.error) == 0.0
  assert np.count_nonzero(P) <= n + m - 1


@pytest.mark.parametrize("p", PS)
def test_plan_equals_pot_for_distinct_samples(x64, p):
  x, y, a, b = _problem(9, 6, seed=3, ties=False)
  _, out = wot.wasserstein_1d(x, y, a, b, p=p, return_output=True)
  np.testing.assert_allclose(np.asarray(out.plan), ot.emd_1d(x, y, a, b, metric="minkowski", p=p),
                             atol=1e-14)


@pytest.mark.parametrize("n, m", SHAPES)
@pytest.mark.parametrize("p", PS)
def test_duals_are_feasible_optimal_and_equal_pot_emd_duals(x64, n, m, p):
  x, y, a, b = _problem(n, m, seed=10 + n)
  C = _cost(x, y, p)
  value, out = wot.wasserstein_1d(x, y, a, b, p=p, return_output=True)
  f, g = np.asarray(out.f), np.asarray(out.g)
  assert np.max(f[:, None] + g[None, :] - C) <= 1e-12  # all n * m pairs
  np.testing.assert_allclose(f @ a + g @ b, float(value), rtol=1e-12)
  np.testing.assert_allclose(f @ a, g @ b, atol=1e-12)  # the centring
  _, log = ot.emd(a, b, C, log=True)
  np.testing.assert_allclose(log["cost"], float(value), rtol=1e-12)
  np.testing.assert_allclose(log["u"] @ a + log["v"] @ b, float(value), rtol=1e-10)
  # With generic weights every path cell carries mass: the optimal plan is a non-degenerate
  # basic solution, so the optimal duals are unique up to (f + c, g - c), and POT centres
  # them the same way (center_dual=True): they must agree exactly, ties or not.
  assert np.count_nonzero(np.asarray(out.plan) > 1e-12) == n + m - 1
  np.testing.assert_allclose(f, log["u"], atol=1e-10)
  np.testing.assert_allclose(g, log["v"], atol=1e-10)


@pytest.mark.parametrize("p", [1.0, 2.0])
def test_degenerate_and_zero_weights(x64, p):
  """Coinciding CDF breakpoints (uniform 4 vs 6: both have 1/2) and zero weights: the duals
  are not unique there, so check feasibility and strong duality, and the value against POT."""
  rng = np.random.default_rng(5)
  cases = [(rng.normal(size=4), rng.normal(size=6), np.full(4, 0.25), np.full(6, 1 / 6))]
  a = np.array([0.3, 0.0, 0.2, 0.5, 0.0])
  b = np.array([0.0, 0.6, 0.4])
  cases.append((rng.normal(size=5), rng.normal(size=3), a, b))
  for x, y, a, b in cases:
    C = _cost(x, y, p)
    value, out = wot.wasserstein_1d(x, y, a, b, p=p, return_output=True)
    f, g = np.asarray(out.f), np.asarray(out.g)
    np.testing.assert_allclose(float(value), ot.emd2(a, b, C), rtol=1e-12)
    assert np.max(f[:, None] + g[None, :] - C) <= 1e-12
    np.testing.assert_allclose(f @ a + g @ b, float(value), rtol=1e-12)
    _, log = ot.emd(a, b, C, log=True)
    np.testing.assert_allclose(f @ a + g @ b, log["u"] @ a + log["v"] @ b, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(out.plan).sum(1), a, atol=1e-14)


def test_unnormalised_equal_masses_and_uniform_defaults(x64):
  x, y, a, b = _problem(6, 8, seed=2)
  v = float(wot.wasserstein_1d(x, y, 3 * a, 3 * b, p=2.0))
  np.testing.assert_allclose(v, 3 * float(wot.wasserstein_1d(x, y, a, b, p=2.0)), rtol=1e-12)
  np.testing.assert_allclose(float(wot.wasserstein_1d(x, y)), ot.wasserstein_1d(x, y, p=2),
                             rtol=1e-12)


def test_float32():
  x, y, a, b = _problem(7, 11, seed=4)
  v = wot.wasserstein_1d(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32),
                         jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32), p=2.0)
  assert v.dtype == jnp.float32
  np.testing.assert_allclose(float(v), ot.wasserstein_1d(x, y, a, b, p=2), rtol=1e-5)


def test_jit_and_vmap_equal_loop(x64):
  rng = np.random.default_rng(6)
  X, Y = rng.normal(size=(5, 7)), rng.normal(size=(5, 11))
  A, B = rng.random((5, 7)) + 0.1, rng.random((5, 11)) + 0.1
  A /= A.sum(1, keepdims=True)
  B /= B.sum(1, keepdims=True)
  fn = lambda x, y, a, b: wot.wasserstein_1d(x, y, a, b, p=3.0, return_output=True)
  v, out = jax.jit(jax.vmap(fn))(X, Y, A, B)
  for i in range(5):
    vi, oi = fn(X[i], Y[i], A[i], B[i])
    np.testing.assert_allclose(v[i], vi, rtol=1e-13)
    np.testing.assert_allclose(out.plan[i], oi.plan, atol=1e-14)
    np.testing.assert_allclose(out.f[i], oi.f, atol=1e-13)
    np.testing.assert_allclose(out.g[i], oi.g, atol=1e-13)
    np.testing.assert_allclose(v[i], ot.wasserstein_1d(X[i], Y[i], A[i], B[i], p=3), rtol=1e-12)


@pytest.mark.parametrize("p", [1.0, 1.5, 2.0, 3.0])
def test_gradients_match_finite_differences(x64, p):
  x, y, a, b = _problem(7, 11, seed=7, ties=False)
  fn = lambda x, y, a, b: wot.wasserstein_1d(x, y, a, b, p=p)
  gx, gy, ga, gb = jax.grad(fn, argnums=(0, 1, 2, 3))(x, y, a, b)
  _, out = wot.wasserstein_1d(x, y, a, b, p=p, return_output=True)
  np.testing.assert_array_equal(ga, out.f)  # d/da = the centred duals
  np.testing.assert_array_equal(gb, out.g)
  rng = np.random.default_rng(8)
  h = 1e-6
  for arg, grad, size in ((0, gx, 7), (1, gy, 11)):
    d = rng.normal(size=size)
    args = [x, y, a, b]
    plus = list(args)
    minus = list(args)
    plus[arg] = args[arg] + h * d
    minus[arg] = args[arg] - h * d
    fd = (float(fn(*plus)) - float(fn(*minus))) / (2 * h)
    np.testing.assert_allclose(float(np.dot(grad, d)), fd, rtol=1e-6, atol=1e-9)
  # Weights: only mass-preserving directions (sum da = sum db) are defined.
  da, db = rng.normal(size=7), rng.normal(size=11)
  da -= da.mean()
  db -= db.mean()
  fd = (float(fn(x, y, a + h * da, b + h * db)) - float(fn(x, y, a - h * da, b - h * db))) / (2 * h)
  np.testing.assert_allclose(float(ga @ da + gb @ db), fd, rtol=1e-6, atol=1e-9)
  # Moving mass between the two sides (sum da = sum db != 0): the equal-mass extension.
  fd = (float(fn(x, y, a * (1 + h), b * (1 + h))) - float(fn(x, y, a * (1 - h), b * (1 - h)))) / (
      2 * h)
  np.testing.assert_allclose(float(ga @ a + gb @ b), fd, rtol=1e-6)


@pytest.mark.parametrize("p", [1.0, 1.5, 2.0])
def test_gradients_are_finite_with_ties(x64, p):
  x, y, a, b = _problem(7, 11, seed=12)  # ties within x, and x[2] == y[-1]
  grads = jax.grad(lambda x, y, a, b: wot.wasserstein_1d(x, y, a, b, p=p), argnums=(0, 1, 2, 3))(
      x, y, a, b)
  assert all(np.all(np.isfinite(np.asarray(g))) for g in grads)


def test_errors():
  x, y = np.zeros(3), np.ones(4)
  a, b = np.full(3, 1 / 3), np.full(4, 0.25)
  with pytest.raises(ValueError, match="a must have shape"):
    wot.wasserstein_1d(x, y, np.full(4, 0.25), b)
  with pytest.raises(ValueError, match="b must have shape"):
    wot.wasserstein_1d(x, y, a, np.full(3, 1 / 3))
  with pytest.raises(ValueError, match="x must have 1 dimension"):
    wot.wasserstein_1d(np.zeros((3, 1)), y)
  with pytest.raises(ValueError, match="a must be non-negative"):
    wot.wasserstein_1d(x, y, np.array([0.5, 0.6, -0.1]), b)
  with pytest.raises(ValueError, match="same total mass"):
    wot.wasserstein_1d(x, y, a, 2 * b)
  with pytest.raises(ValueError, match="p must be a finite number >= 1"):
    wot.wasserstein_1d(x, y, p=0.5)
  with pytest.raises(ValueError, match="x must be finite"):
    wot.wasserstein_1d(np.array([0.0, np.nan, 1.0]), y)
  with pytest.raises(ValueError, match="at least one sample"):
    wot.wasserstein_1d(np.zeros(0), y)
  with pytest.raises(ValueError, match="positive total mass"):
    wot.wasserstein_1d(x, y, np.zeros(3), np.zeros(4))
  with pytest.raises(TypeError, match="p must be a concrete"):
    jax.jit(lambda p: wot.wasserstein_1d(x, y, p=p))(2.0)


# ---------------------------------------------------------------------------
# Sliced Wasserstein with weights.
# ---------------------------------------------------------------------------
def _theta(key, num, d, dtype):
  theta = np.asarray(jax.random.normal(key, (num, d), dtype), np.float64)
  return theta / np.linalg.norm(theta, axis=1, keepdims=True)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_weighted_sliced_matches_pot_with_the_same_projections(x64, p):
  rng = np.random.default_rng(9)
  x, y = rng.normal(size=(13, 3)), rng.normal(size=(8, 3)) + 0.5
  a, b = rng.random(13) + 0.1, rng.random(8) + 0.1
  a, b = a / a.sum(), b / b.sum()
  key = jax.random.key(0)
  sw = float(wot.sliced_wasserstein(key, x, y, a, b, num_projections=20, p=p))
  theta = _theta(key, 20, 3, jnp.float64)
  ref = ot.sliced_wasserstein_distance(x, y, a, b, p=p, projections=theta.T)
  np.testing.assert_allclose(sw, ref, rtol=1e-12)
  # The same, projection by projection, with POT's exact 1-D solver.
  ref2 = np.mean([ot.emd2_1d(x @ t, y @ t, a, b, metric="minkowski", p=p) for t in theta]) ** (
      1 / p)
  np.testing.assert_allclose(sw, ref2, rtol=1e-12)


def test_sliced_uniform_weights_agree_and_weights_get_gradients(x64):
  rng = np.random.default_rng(10)
  x, y = rng.normal(size=(10, 2)), rng.normal(size=(15, 2))
  key = jax.random.key(1)
  plain = float(wot.sliced_wasserstein(key, x, y, num_projections=12))
  given = float(wot.sliced_wasserstein(key, x, y, np.full(10, 0.1), num_projections=12))
  np.testing.assert_allclose(given, plain, rtol=1e-12)
  # Generic weights: at uniform 10 vs 15 the CDF breakpoints coincide (k/10 = l/15) and the
  # value is only sub-differentiable in the weights.
  a, b = rng.random(10) + 0.1, rng.random(15) + 0.1
  a, b = a / a.sum(), b / b.sum()
  fn = jax.jit(lambda x, a, b: wot.sliced_wasserstein(key, x, y, a, b, num_projections=12))
  gx, ga, gb = jax.grad(fn, argnums=(0, 1, 2))(x, a, b)
  assert all(np.all(np.isfinite(np.asarray(g))) for g in (gx, ga, gb))
  h = 1e-6
  da = rng.normal(size=10)
  da -= da.mean()
  fd = (float(fn(x, a + h * da, b)) - float(fn(x, a - h * da, b))) / (2 * h)
  np.testing.assert_allclose(float(ga @ da), fd, rtol=1e-5, atol=1e-9)
  # vmap over a batch of weightings.
  A = rng.random((3, 10)) + 0.1
  A /= A.sum(1, keepdims=True)
  v = jax.vmap(lambda a: fn(x, a, b))(A)
  np.testing.assert_allclose(v, [float(fn(x, ai, b)) for ai in A], rtol=1e-12)


def test_sliced_weight_errors():
  x, y = np.zeros((3, 2)), np.ones((4, 2))
  key = jax.random.key(0)
  with pytest.raises(ValueError, match="a must have shape"):
    wot.sliced_wasserstein(key, x, y, np.full(4, 0.25))
  with pytest.raises(ValueError, match="same total mass"):
    wot.sliced_wasserstein(key, x, y, np.full(3, 1 / 3), np.full(4, 0.5))
  with pytest.raises(ValueError, match="p must be"):
    wot.sliced_wasserstein(key, x, y, p=0.0)


def test_doctests():
  import doctest

  from wassml.ot import one_dim
  result = doctest.testmod(one_dim, optionflags=doctest.NORMALIZE_WHITESPACE)
  assert result.attempted > 0 and result.failed == 0
