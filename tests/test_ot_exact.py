"""Exact OT (`wassml.ot.emd`): parity with POT, gradients, vmap, tracing, input checks."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import ot  # POT: independent reference only.
import pytest

import wassml.ot as wot


def _problem(rng, n, m, d=3, weights=False):
  x = rng.normal(size=(n, d))
  y = rng.normal(size=(m, d)) + 0.5
  cost = ot.dist(x, y)
  cost /= cost.max()
  if not weights:
    return cost, None, None
  a = rng.random(n) + 0.1
  b = rng.random(m) + 0.1
  return cost, a / a.sum(), b / b.sum()


@pytest.mark.parametrize("method", ["auction", "host", "auto"])
@pytest.mark.parametrize("n", [1, 2, 9, 33])
def test_uniform_square_matches_pot_float64(x64, n, method):
  rng = np.random.default_rng(n)
  for _ in range(3):
    cost, _, _ = _problem(rng, n, n)
    res = wot.emd(cost, method=method)
    assert res.plan.dtype == jnp.float64
    ref = ot.emd2([], [], cost)
    np.testing.assert_allclose(float(res.transport_cost), ref, rtol=1e-9, atol=1e-12)
    assert bool(res.converged)
    # A permutation plan with uniform marginals.
    np.testing.assert_allclose(np.asarray(res.plan).sum(0), 1.0 / n, atol=1e-12)
    np.testing.assert_allclose(np.asarray(res.plan).sum(1), 1.0 / n, atol=1e-12)
    assert set(np.unique(np.asarray(res.plan) * n)) <= {0.0, 1.0}


def test_auction_float32_close_to_pot():
  rng = np.random.default_rng(0)
  cost, _, _ = _problem(rng, 40, 40, d=5)
  res = wot.emd(jnp.asarray(cost, jnp.float32), method="auction")
  assert res.transport_cost.dtype == jnp.float32
  np.testing.assert_allclose(float(res.transport_cost), ot.emd2([], [], cost), rtol=1e-5)


def test_auction_ties_integer_costs(x64):
  # Many ties: integer costs in {0, 1, 2}.
  rng = np.random.default_rng(3)
  cost = rng.integers(0, 3, size=(15, 15)).astype(np.float64)
  for method in ("auction", "host"):
    res = wot.emd(cost, method=method)
    np.testing.assert_allclose(float(res.transport_cost), ot.emd2([], [], cost), atol=1e-12)


@pytest.mark.parametrize("n,m", [(7, 11), (13, 5), (6, 6)])
def test_host_lp_matches_pot_general_weights(x64, n, m):
  rng = np.random.default_rng(n * m)
  cost, a, b = _problem(rng, n, m, weights=True)
  res = wot.emd(cost, a, b)
  ref = ot.emd2(a, b, cost)
  np.testing.assert_allclose(float(res.transport_cost), ref, rtol=1e-9, atol=1e-12)
  np.testing.assert_allclose(np.asarray(res.plan).sum(1), a, atol=1e-9)
  np.testing.assert_allclose(np.asarray(res.plan).sum(0), b, atol=1e-9)
  # LP duals: f_i + g_j <= C_ij and <f,a> + <g,b> = OT.
  f, g = np.asarray(res.f), np.asarray(res.g)
  assert np.all(f[:, None] + g[None, :] <= cost + 1e-9)
  np.testing.assert_allclose(f @ a + g @ b, ref, rtol=1e-7, atol=1e-12)


def test_host_uniform_rectangular_and_square(x64):
  rng = np.random.default_rng(1)
  cost, _, _ = _problem(rng, 9, 14)
  np.testing.assert_allclose(float(wot.emd(cost).transport_cost), ot.emd2([], [], cost), rtol=1e-9)
  cost, _, _ = _problem(rng, 12, 12)
  res = wot.emd(cost, method="host")
  np.testing.assert_allclose(float(res.transport_cost), ot.emd2([], [], cost), rtol=1e-9)


def test_host_path_vmaps_and_jits(x64):
  rng = np.random.default_rng(2)
  costs = np.stack([_problem(rng, 5, 8)[0] for _ in range(3)])
  a = np.full(5, 0.2)
  out = jax.jit(jax.vmap(lambda c: wot.emd(c, a, None).transport_cost))(costs)
  ref = [ot.emd2(a, [], c) for c in costs]
  np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-9)


def test_gradient_wrt_points_matches_finite_differences(x64):
  rng = np.random.default_rng(4)
  x = jnp.asarray(rng.normal(size=(8, 2)))
  y = jnp.asarray(rng.normal(size=(8, 2)))
  w = jnp.asarray(rng.random(size=(8, 2)) + 0.5)
  a = jnp.asarray(np.full(8, 1 / 8))

  for method in ("auction", "host"):
    def f(x):
      kw = dict(a=a, b=a) if method == "host" else {}
      return wot.emd(wot.sqeuclidean(x, y), method=method, **kw).transport_cost

    g = jax.grad(f)(x)
    h = 1e-6
    fd = (f(x + h * w) - f(x - h * w)) / (2 * h)
    np.testing.assert_allclose(float(jnp.sum(g * w)), float(fd), rtol=1e-5)


@pytest.mark.parametrize("method", ["auction", "host"])
def test_vmap_equals_loop(method):
  rng = np.random.default_rng(5)
  costs = jnp.asarray(np.stack([_problem(rng, 16, 16)[0] for _ in range(4)]), jnp.float32)
  batched = jax.vmap(lambda c: wot.emd(c, method=method))(costs)
  for i in range(4):
    single = wot.emd(costs[i], method=method)
    np.testing.assert_allclose(np.asarray(batched.plan[i]), np.asarray(single.plan))
    np.testing.assert_allclose(float(batched.transport_cost[i]), float(single.transport_cost), rtol=1e-6)


def test_parallel_auction_batching_equals_sequential_and_pot(x64):
  """Under vmap the auction runs problem by problem (default) or as one batched while-loop
  ("parallel"): the same optimal assignments, each problem still reports its own rounds."""
  rng = np.random.default_rng(8)
  costs = np.stack([_problem(rng, 12, 12)[0] for _ in range(5)])
  costs[2] = np.round(costs[2] * 3)  # ties
  seq = jax.jit(jax.vmap(lambda c: wot.emd(c, method="auction")))(costs)
  par = jax.jit(jax.vmap(lambda c: wot.emd(c, method="auction", batching="parallel")))(costs)
  ref = [ot.emd2([], [], c) for c in costs]
  np.testing.assert_allclose(np.asarray(par.transport_cost), ref, rtol=1e-9, atol=1e-12)
  np.testing.assert_allclose(np.asarray(par.transport_cost), np.asarray(seq.transport_cost), rtol=1e-12, atol=1e-12)
  assert bool(jnp.all(par.converged))
  np.testing.assert_array_equal(np.asarray(par.num_iters), np.asarray(seq.num_iters))
  # The two really differ in how they batch: a lax.map over problems vs one batched while-loop.
  def loops(batching):
    text = str(jax.make_jaxpr(jax.vmap(lambda c: wot.emd(c, method="auction",
                                                         batching=batching).transport_cost))(costs))
    return "scan[" in text or "custom_vmap" in text
  assert loops("sequential") and not loops("parallel")
  with pytest.raises(ValueError, match="batching"):
    wot.emd(costs[0], method="auction", batching="threads")


@pytest.mark.parametrize("method", ["auction", "host"])
def test_no_retrace_on_new_values(method):
  chex.clear_trace_counter()

  @jax.jit
  @chex.assert_max_traces(n=1)
  def f(c):
    return wot.emd(c, method=method).transport_cost

  rng = np.random.default_rng(6)
  for _ in range(3):
    f(jnp.asarray(_problem(rng, 10, 10)[0], jnp.float32))


@pytest.mark.parametrize(
    "args,kwargs,match",
    [
        ((np.ones((3, 4)), np.full(4, 0.25), None), {}, "a must have shape"),
        ((np.ones((3, 3)), np.array([0.5, 0.7, -0.2]), None), {}, "non-negative"),
        ((np.ones((3, 3)), np.array([0.5, np.nan, 0.5]), None), {}, "NaN"),
        ((np.ones((3, 3)), np.array([0.5, 0.5, 0.5]), None), {}, "sum to 1"),
        ((np.array([[0.0, np.inf], [1.0, 0.0]]),), {}, "cost must be finite"),
        ((np.ones(3),), {}, "cost must have 2 dimension"),
        ((np.ones((3, 4)),), {"method": "auction"}, "square cost and uniform"),
        ((np.ones((3, 3)),), {"method": "simplex"}, "method must be one of"),
    ])
def test_bad_input_raises(args, kwargs, match):
  with pytest.raises(ValueError, match=match):
    wot.emd(*args, **kwargs)


# ----------------------------------------------------------------------------
# General weights: column generation with a dual certificate (wassml.ot.colgen).
# ----------------------------------------------------------------------------
from wassml.ot import colgen  # noqa: E402


def _sparse_hist(rng, n, zero_frac=0.4):
  h = rng.random(n) * (rng.random(n) > zero_frac)
  h[rng.integers(n)] += 0.1  # at least one non-empty bin
  return h / h.sum()


def _grid_cost(side):
  r, c = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
  pos = np.stack([r.ravel(), c.ravel()], 1).astype(np.float64)
  return ot.dist(pos, pos)


def _check_certificate(res, cost, a, b, ref):
  """Primal feasibility, value, dual feasibility and complementary slackness."""
  plan, f, g = np.asarray(res.plan), np.asarray(res.f), np.asarray(res.g)
  scale = np.abs(cost).max()
  np.testing.assert_allclose(float(res.transport_cost), ref, rtol=1e-9, atol=1e-12 * scale)
  assert plan.min() >= 0
  np.testing.assert_allclose(plan.sum(1), a, atol=1e-9)
  np.testing.assert_allclose(plan.sum(0), b, atol=1e-9)
  reduced = cost - f[:, None] - g[None, :]
  assert reduced.min() >= -1e-8 * scale  # dual feasible on every edge
  assert np.all(np.abs(reduced[plan > 1e-12]) <= 1e-8 * scale)  # complementary slackness
  np.testing.assert_allclose(f @ a + g @ b, ref, rtol=1e-8, atol=1e-12 * scale)
  assert bool(res.converged)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_general_weights_histograms_with_zeros_match_pot(x64, seed):
  rng = np.random.default_rng(seed)
  cost = _grid_cost(7)  # 49 bins, squared-Euclidean grid cost in pixel units
  a, b = _sparse_hist(rng, 49), _sparse_hist(rng, 49)
  res = wot.emd(cost, a, b)
  _check_certificate(res, cost, a, b, ot.emd2(a, b, cost))


@pytest.mark.parametrize("n,m", [(30, 45), (50, 20), (1, 9), (9, 1)])
def test_general_weights_random_rectangular_costs_match_pot(x64, n, m):
  rng = np.random.default_rng(n + 100 * m)
  cost = rng.random((n, m)) * 10.0  # continuous random costs: the optimal plan is unique
  a, b = _sparse_hist(rng, n, 0.2), _sparse_hist(rng, m, 0.2)
  res = wot.emd(cost, a, b)
  _check_certificate(res, cost, a, b, ot.emd2(a, b, cost))
  np.testing.assert_allclose(np.asarray(res.plan), ot.emd(a, b, cost), atol=1e-9)


def test_column_generation_adds_missing_edges(x64):
  # One cheapest edge per row/column and no dual warm start: the first restricted LP
  # (those edges plus the north-west corner) misses optimal edges, so columns must be added.
  rng = np.random.default_rng(7)
  cost = _grid_cost(6)
  a, b = _sparse_hist(rng, 36, 0.1), _sparse_hist(rng, 36, 0.1)
  ref = ot.emd2(a, b, cost)
  sol = colgen.solve_transport(cost, a, b, warm_start_iters=0, k=1, add_k=1)
  assert sol.rounds > 1
  assert sol.converged and sol.min_reduced_cost >= -1e-9 * cost.max()
  np.testing.assert_allclose(sol.value, ref, rtol=1e-9)
  # Stopped after the first round, the certificate fails and says so.
  early = colgen.solve_transport(cost, a, b, warm_start_iters=0, k=1, add_k=1, max_rounds=1)
  assert not early.converged and early.min_reduced_cost < -1e-9 * cost.max()
  assert early.value > ref + 1e-9


def test_north_west_corner_alone_is_a_feasible_start(x64):
  rng = np.random.default_rng(8)
  cost = rng.random((12, 17))
  a, b = _sparse_hist(rng, 12, 0.0), _sparse_hist(rng, 17, 0.0)
  rows, cols = colgen.northwest_corner(a, b)
  assert len(rows) == 12 + 17 - 1
  sol = colgen.solve_transport(cost, a, b, warm_start_iters=0, k=0, add_k=2)
  assert sol.converged and sol.rounds > 1
  np.testing.assert_allclose(sol.value, ot.emd2(a, b, cost), rtol=1e-9)


def test_linprog_fallback_gives_same_result(x64, monkeypatch):
  rng = np.random.default_rng(9)
  cost = _grid_cost(5)
  a, b = _sparse_hist(rng, 25), _sparse_hist(rng, 25)
  ref = ot.emd2(a, b, cost)
  monkeypatch.setattr(colgen, "_highs_core", None)
  sol = colgen.solve_transport(cost, a, b, warm_start_iters=0, k=1, add_k=1)
  assert sol.converged and sol.rounds > 1
  np.testing.assert_allclose(sol.value, ref, rtol=1e-9)


def test_dirac_and_float32_histograms():
  cost = _grid_cost(4)
  a = np.zeros(16)
  a[0] = 1.0
  b = np.zeros(16)
  b[5] = 1.0
  res = wot.emd(jnp.asarray(cost, jnp.float32), jnp.asarray(a, jnp.float32),
                jnp.asarray(b, jnp.float32))
  assert res.transport_cost.dtype == jnp.float32
  np.testing.assert_allclose(float(res.transport_cost), 2.0, rtol=1e-6)  # (0,0) -> (1,1)
  assert bool(res.converged)


def test_general_weights_vmap_over_batch(x64):
  rng = np.random.default_rng(10)
  cost = _grid_cost(6)
  A = np.stack([_sparse_hist(rng, 36) for _ in range(4)])
  B = np.stack([_sparse_hist(rng, 36) for _ in range(4)])
  out = jax.jit(jax.vmap(lambda a, b: wot.emd(cost, a, b)))(A, B)
  for i in range(4):
    np.testing.assert_allclose(float(out.transport_cost[i]), ot.emd2(A[i], B[i], cost), rtol=1e-9)
    assert bool(out.converged[i]) and int(out.num_iters[i]) >= 1


def test_general_weights_exact_marginals_with_small_weights(x64):
  # 196 bins of mass ~5e-3: the LP's absolute feasibility tolerances must not leak into the
  # plan (masses are rescaled inside), so marginals and value are exact to float64 rounding.
  rng = np.random.default_rng(11)
  cost = _grid_cost(14)
  for _ in range(3):
    a, b = _sparse_hist(rng, 196, 0.3), _sparse_hist(rng, 196, 0.3)
    res = wot.emd(cost, a, b)
    plan = np.asarray(res.plan)
    assert np.abs(plan.sum(1) - a).max() < 1e-14 and np.abs(plan.sum(0) - b).max() < 1e-14
    np.testing.assert_allclose(float(res.transport_cost), ot.emd2(a, b, cost), rtol=1e-12)
    assert bool(res.converged)


@pytest.mark.parametrize("cost,a,b,match", [
    (np.ones((2, 3)), np.ones(3) / 3, np.ones(3) / 3, "shapes"),
    (np.array([[0.0, np.nan], [1.0, 0.0]]), np.ones(2) / 2, np.ones(2) / 2, "finite"),
    (np.ones((2, 2)), np.array([1.5, -0.5]), np.ones(2) / 2, "non-negative"),
    (np.ones((2, 2)), np.zeros(2), np.ones(2) / 2, "positive mass"),
])
def test_solve_transport_bad_input(cost, a, b, match):
  with pytest.raises(ValueError, match=match):
    colgen.solve_transport(cost, a, b)
