"""Regression tests for the OT core's contract: exact iteration counts, one stopping criterion,
empty bins (IPOT, unbalanced potentials), exact-OT weight gradients, the stabilised default,
semi-relaxed OT, warm start and epsilon annealing. References: POT (float64) and brute force."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import ot  # POT: independent reference only.
import pytest

import wassml.ot as wot
from tests.fixtures import ot_problem
from wassml.ot.exact import assignment_duals


SOLVERS = {
    "sinkhorn": functools.partial(wot.sinkhorn, epsilon=0.05),
    "unbalanced": functools.partial(wot.unbalanced_sinkhorn, epsilon=0.05, rho=1.0),
}


@pytest.mark.parametrize("mode", ["auto", "kernel", "log"])
@pytest.mark.parametrize("name", list(SOLVERS))
@pytest.mark.parametrize("num_iters", [1, 5, 13])
def test_num_iters_is_a_hard_maximum(name, mode, num_iters):
  # Asking for 1 or 5 iterations used to run 10 (whole blocks of check_every).
  cost, a, b = ot_problem(0, 9, 7)
  res = SOLVERS[name](cost, a, b, mode=mode, num_iters=num_iters, tol=0.0)
  assert int(res.num_iters) == num_iters
  assert not bool(res.converged)
  # Under vmap too, and with the default check_every.
  costs = jnp.stack([jnp.asarray(cost, jnp.float32)] * 2)
  out = jax.vmap(lambda c: SOLVERS[name](c, mode=mode, num_iters=num_iters, tol=0.0))(costs)
  assert np.all(np.asarray(out.num_iters) == num_iters)


def test_one_iteration_is_one_sinkhorn_update(x64):
  # Brute force: one iteration = u <- a / K 1, v <- b / K^T u.
  cost, a, b = ot_problem(1, 6, 8)
  eps = 0.3
  K = np.exp(-cost / eps)
  u = a / (K @ np.ones(8))
  v = b / (K.T @ u)
  for mode in ("auto", "kernel", "log"):
    res = wot.sinkhorn(cost, a, b, epsilon=eps, num_iters=1, mode=mode, tol=0.0)
    # "kernel" and "log" start from u = v = 1; "auto" starts from the row and column minima
    # of C (another first iterate), so it is checked at convergence below.
    if mode != "auto":
      np.testing.assert_allclose(np.asarray(res.plan), u[:, None] * K * v[None], rtol=1e-10)
  # The stabilised mode converges to the same plan.
  ref = ot.sinkhorn(a, b, cost, eps, stopThr=1e-14, numItermax=100000)
  res = wot.sinkhorn(cost, a, b, epsilon=eps, tol=1e-13, num_iters=20000)
  np.testing.assert_allclose(np.asarray(res.plan), ref, atol=1e-12)


@pytest.mark.parametrize("mode", ["auto", "kernel", "log"])
def test_stopping_criterion_is_the_l1_row_marginal_error(x64, mode):
  cost, a, b = ot_problem(2, 11, 7)
  res = wot.sinkhorn(cost, a, b, epsilon=0.05, mode=mode, tol=1e-6)
  assert bool(res.converged)
  P = np.asarray(res.plan)
  row_err = np.abs(P.sum(1) - a).sum()
  np.testing.assert_allclose(float(res.error), row_err, rtol=1e-6, atol=1e-15)
  assert row_err <= 1e-6
  np.testing.assert_allclose(P.sum(0), b, atol=1e-12)  # columns exact after each iteration
  # Not converged one check earlier: it stopped at the first check that passed.
  prev = wot.sinkhorn(cost, a, b, epsilon=0.05, mode=mode, tol=1e-6,
                      num_iters=int(res.num_iters) - 10)
  assert float(prev.error) > 1e-6


def test_unbalanced_criterion_is_mass_moved_by_the_next_row_update(x64):
  cost, a, b = ot_problem(3, 8, 10)
  eps, rho = 0.1, 0.5
  res = wot.unbalanced_sinkhorn(cost, 2 * a, b, epsilon=eps, rho=rho, tol=1e-8)
  P = np.asarray(res.plan)
  fi = rho / (rho + eps)
  K = np.exp(-cost / eps)
  # Brute force: with P = diag(u) K diag(v), the next row update is u' = ((2a)/(K v))^fi.
  f, g = np.asarray(res.f), np.asarray(res.g)
  uu, vv = np.exp(f / eps), np.exp(g / eps)
  u_next = ((2 * a) / (K @ vv)) ** fi
  moved = np.sum(np.abs(uu * (K @ vv) - u_next * (K @ vv)))
  np.testing.assert_allclose(float(res.error), moved, rtol=1e-4, atol=1e-14)
  assert bool(res.converged) and moved <= 1e-8
  del P


def test_ipot_with_empty_bins_is_finite_and_exact(x64):
  # u = a / (Q v) was 0/0 as soon as a weight was zero.
  cost, a, b = ot_problem(4, 7, 9)
  a[2] = 0.0
  b[[0, 5]] = 0.0
  a, b = a / a.sum(), b / b.sum()
  res = wot.ipot(cost, a, b, beta=0.1, num_iters=2000, inner_iters=1)
  T = np.asarray(res.plan)
  assert np.all(np.isfinite(T))
  assert np.all(T[2] == 0) and np.all(T[:, [0, 5]] == 0)
  np.testing.assert_allclose(float(res.transport_cost), ot.emd2(a, b, cost), rtol=1e-6)
  np.testing.assert_allclose(T.sum(1), a, atol=1e-8)


@pytest.mark.parametrize("mode", ["auto", "kernel", "log"])
def test_unbalanced_entropy_potentials_reproduce_the_plan_at_empty_bins(x64, mode):
  # The potentials used to be set to 0 at empty bins, where P = exp((f + g - C)/eps) then gave
  # exp((g - C)/eps) > 0 instead of the zero row.
  cost, a, b = ot_problem(5, 6, 8)
  a[1] = 0.0
  b[3] = 0.0
  eps = 0.2
  res = wot.unbalanced_sinkhorn(cost, a, b, epsilon=eps, rho=1.0, mode=mode, tol=1e-12,
                                num_iters=20000)
  f, g, P = np.asarray(res.f), np.asarray(res.g), np.asarray(res.plan)
  assert f[1] == -np.inf and g[3] == -np.inf
  np.testing.assert_allclose(np.exp((f[:, None] + g[None] - cost) / eps), P, atol=1e-14)
  ref = ot.unbalanced.sinkhorn_knopp_unbalanced(a, b, cost, eps, 1.0, reg_type="entropy",
                                                stopThr=1e-15, numItermax=100000)
  np.testing.assert_allclose(P, ref, atol=1e-11)
  assert np.isfinite(float(res.objective))
  g_b = jax.grad(lambda q: wot.unbalanced_sinkhorn(cost, a, q, epsilon=eps, rho=1.0,
                                                   mode=mode).objective)(jnp.asarray(b))
  assert np.all(np.isfinite(np.asarray(g_b)))


def test_emd_weight_gradient_is_the_centred_dual(x64):
  # emd gave the weights a zero gradient; POT's emd2 returns the centred duals.
  cost, a, b = ot_problem(6, 8, 11)
  _, log = ot.emd(a, b, cost, log=True)
  ga, gb = jax.grad(lambda a, b: wot.emd(cost, a, b).transport_cost, argnums=(0, 1))(
      jnp.asarray(a), jnp.asarray(b))
  np.testing.assert_allclose(np.asarray(ga), log["u"] - log["u"].mean(), atol=1e-9)
  np.testing.assert_allclose(np.asarray(gb), log["v"] - log["v"].mean(), atol=1e-9)
  # Finite differences along the simplex.
  d = np.random.default_rng(0).normal(size=8)
  d -= d.mean()
  h = 1e-7
  fd = (ot.emd2(a + h * d, b, cost) - ot.emd2(a - h * d, b, cost)) / (2 * h)
  np.testing.assert_allclose(float(jnp.dot(ga, d)), fd, rtol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_assignment_duals_are_feasible_and_optimal(seed):
  from scipy.optimize import linear_sum_assignment
  rng = np.random.default_rng(seed)
  n = 40
  cost = rng.random((n, n))
  if seed == 2:
    cost = np.round(cost * 4) / 4  # ties
  _, cols = linear_sum_assignment(cost)
  f, g = assignment_duals(cost, cols)
  assert np.all(f[:, None] + g[None] <= cost + 1e-12)
  np.testing.assert_allclose(f.sum() + g.sum(), cost[np.arange(n), cols].sum(), rtol=1e-12)
  # The uniform square host path reports them when weights are passed, and its weight
  # gradient matches the finite difference of POT's value along the simplex.
  u = np.full(n, 1.0 / n)
  res = wot.emd(jnp.asarray(cost, jnp.float64) if jax.config.jax_enable_x64 else cost, u, u)
  fr, gr = np.asarray(res.f, np.float64), np.asarray(res.g, np.float64)
  assert np.all(fr[:, None] + gr[None] <= cost + 1e-5)
  np.testing.assert_allclose((fr.sum() + gr.sum()) / n, ot.emd2(u, u, cost), rtol=1e-5)


def test_semi_relaxed_matches_pot(x64):
  cost, a, b = ot_problem(7, 9, 12)
  eps, rho = 0.1, 0.7
  for convention in ("kl", "entropy"):
    res = wot.unbalanced_sinkhorn(cost, a, 3 * b, epsilon=eps, rho_a=math.inf, rho_b=rho,
                                  convention=convention, tol=1e-13, num_iters=50000)
    assert bool(res.converged)
    P = np.asarray(res.plan)
    np.testing.assert_allclose(P.sum(1), a, atol=1e-12)  # the constrained side is exact
    ref = ot.unbalanced.sinkhorn_knopp_unbalanced(a, 3 * b, cost, eps, (math.inf, rho),
                                                  reg_type=convention, stopThr=1e-15,
                                                  numItermax=200000)
    np.testing.assert_allclose(P, ref, atol=1e-11, err_msg=convention)
  # Separate finite penalties against POT's reg_m pair.
  res = wot.unbalanced_sinkhorn(cost, 2 * a, b, epsilon=eps, rho_a=0.3, rho_b=2.0,
                                convention="kl", tol=1e-13, num_iters=50000)
  ref = ot.unbalanced.sinkhorn_knopp_unbalanced(2 * a, b, cost, eps, (0.3, 2.0), reg_type="kl",
                                                stopThr=1e-15, numItermax=200000)
  np.testing.assert_allclose(np.asarray(res.plan), ref, atol=1e-11)
  with pytest.raises(ValueError, match="both infinite"):
    wot.unbalanced_sinkhorn(cost, a, b, epsilon=eps, rho_a=math.inf, rho_b=math.inf)
  with pytest.raises(ValueError, match="needs rho"):
    wot.unbalanced_sinkhorn(cost, a, b, epsilon=eps, rho_a=1.0)
  with pytest.raises(ValueError, match="rho_b must be a finite positive"):
    wot.unbalanced_sinkhorn(cost, a, b, epsilon=eps, rho=1.0, rho_b=-2.0)


def test_semi_relaxed_gradient_matches_finite_differences(x64):
  cost, a, b = ot_problem(8, 6, 7)
  f = lambda c: wot.unbalanced_sinkhorn(c, a, 2 * b, epsilon=0.3, rho_a=math.inf, rho_b=0.5,
                                        tol=1e-14, num_iters=50000).objective
  d = np.random.default_rng(1).normal(size=cost.shape)
  h = 1e-6
  fd = (f(cost + h * d) - f(cost - h * d)) / (2 * h)
  np.testing.assert_allclose(float(jnp.sum(jax.grad(f)(jnp.asarray(cost)) * d)), float(fd),
                             rtol=1e-6)
  fa = lambda w: wot.unbalanced_sinkhorn(cost, w, 2 * b, epsilon=0.3, rho_a=math.inf,
                                         rho_b=0.5, tol=1e-14, num_iters=50000).objective
  da = np.random.default_rng(2).normal(size=6)
  fd = (fa(a + h * da) - fa(a - h * da)) / (2 * h)
  np.testing.assert_allclose(float(jnp.dot(jax.grad(fa)(jnp.asarray(a)), da)), float(fd),
                             rtol=1e-5)


@pytest.mark.parametrize("name", list(SOLVERS))
def test_warm_start_converges_faster_to_the_same_plan(x64, name):
  cost, a, b = ot_problem(9, 30, 25)
  solve = functools.partial(SOLVERS[name], tol=1e-10, num_iters=20000)
  cold = solve(cost, a, b)
  near = cost + 0.01 * np.random.default_rng(0).random(cost.shape)
  warm_from = solve(near, a, b)
  warm = solve(cost, a, b, init=(warm_from.f, warm_from.g))
  cold_from_scratch = int(cold.num_iters)
  assert int(warm.num_iters) < cold_from_scratch
  np.testing.assert_allclose(np.asarray(warm.plan), np.asarray(cold.plan), atol=1e-9)
  # Warm start from the solution itself: converged at the first check.
  again = solve(cost, a, b, init=(cold.f, cold.g))
  assert int(again.num_iters) <= 10
  with pytest.raises(ValueError, match="init must be"):
    solve(cost, a, b, init=(cold.f, cold.g[:3]))


def test_epsilon_annealing_reaches_the_target_problem(x64):
  cost, a, b = ot_problem(10, 40, 40)
  eps = 2e-3
  ref = ot.sinkhorn(a, b, cost, eps, method="sinkhorn_log", stopThr=1e-12, numItermax=200000)
  res = wot.sinkhorn(cost, a, b, epsilon=eps, epsilon_start=1.0, epsilon_decay=0.5, tol=1e-9,
                     num_iters=100000)
  assert bool(res.converged)
  np.testing.assert_allclose(np.asarray(res.plan), ref, atol=1e-7)
  plain = wot.sinkhorn(cost, a, b, epsilon=eps, tol=1e-9, num_iters=100000)
  assert int(res.num_iters) < int(plain.num_iters)
  with pytest.raises(ValueError, match="needs mode='auto'"):
    wot.sinkhorn(cost, a, b, epsilon=eps, epsilon_start=1.0, mode="log")
  with pytest.raises(ValueError, match="epsilon_decay"):
    wot.sinkhorn(cost, a, b, epsilon=eps, epsilon_start=1.0, epsilon_decay=1.5)


@pytest.mark.parametrize("name", list(SOLVERS))
def test_default_mode_equals_explicit_modes_under_vmap(name):
  # The default is one code path under vmap (no lax.cond whose branches both run); it gives the
  # same plans as the kernel and log modes.
  costs = jnp.asarray(np.stack([ot_problem(s, 16, 12)[0] for s in range(4)]), jnp.float32)
  outs = {m: jax.jit(jax.vmap(lambda c, m=m: SOLVERS[name](c, mode=m)))(costs)
          for m in ("auto", "kernel", "log")}
  for m in ("kernel", "log"):
    np.testing.assert_allclose(np.asarray(outs["auto"].plan), np.asarray(outs[m].plan),
                               atol=2e-6, err_msg=m)
  # The compiled default program holds no conditional.
  hlo = jax.jit(jax.vmap(lambda c: SOLVERS[name](c).plan)).lower(costs).as_text()
  assert "conditional" not in hlo and "stablehlo.case" not in hlo


@pytest.mark.parametrize("rel_eps", [1e-3, 1e-4])
def test_default_is_stable_where_the_kernel_underflows(rel_eps):
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(30, 3)), jnp.float32)
  y = jnp.asarray(rng.normal(size=(20, 3)) * 2.0, jnp.float32)
  c = wot.sqeuclidean(x, y)
  eps = rel_eps * float(jnp.mean(c))
  assert float(jnp.max(c)) / eps > 1e3  # exp(-C/eps) underflows in float32
  for name, solve in {"sinkhorn": functools.partial(wot.sinkhorn, epsilon=eps),
                      "unbalanced": functools.partial(wot.unbalanced_sinkhorn, epsilon=eps,
                                                      rho=1.0)}.items():
    res = solve(c, num_iters=5000)
    assert np.all(np.isfinite(np.asarray(res.plan))), name
    assert np.all(np.isfinite(np.asarray(res.f))) and np.all(np.isfinite(np.asarray(res.g)))
    g = jax.grad(lambda x: solve(wot.sqeuclidean(x, y), num_iters=500).objective)(x)
    assert np.all(np.isfinite(np.asarray(g))), name
  # At such eps plain Sinkhorn converges slowly; annealed from the mean cost it converges, and
  # its value approaches exact OT.
  exact = ot.emd2([], [], np.asarray(c, np.float64))
  res = wot.sinkhorn(c, epsilon=eps, num_iters=20000, tol=1e-4,
                     epsilon_start=float(jnp.mean(c)))
  assert bool(res.converged)
  assert abs(float(res.transport_cost) - exact) / exact < 0.01
