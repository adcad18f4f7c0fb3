"""Entropic OT (`sinkhorn`, `unbalanced_sinkhorn`): POT parity, gradients, vmap,
tracing, small-epsilon stability, input checks."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import ot  # POT: independent reference only.
import pytest

import wassml.ot as wot
from tests.fixtures import np_kl, ot_problem


@pytest.mark.parametrize("mode", ["kernel", "log", "auto"])
@pytest.mark.parametrize("n,m,eps", [(7, 11, 0.05), (13, 5, 0.2)])
def test_sinkhorn_matches_pot(x64, mode, n, m, eps):
  cost, a, b = ot_problem(n + m, n, m)
  res = wot.sinkhorn(cost, a, b, epsilon=eps, mode=mode, tol=1e-13, num_iters=20000)
  assert bool(res.converged)
  ref_plan = ot.sinkhorn(a, b, cost, eps, stopThr=1e-14, numItermax=100000)
  ref = ot.sinkhorn2(a, b, cost, eps, stopThr=1e-14, numItermax=100000)
  np.testing.assert_allclose(float(res.transport_cost), ref, rtol=1e-9)
  np.testing.assert_allclose(np.asarray(res.plan), ref_plan, atol=1e-11)
  # Objective = <P,C> + eps KL(P | a b^T); potentials reproduce the plan.
  P = np.asarray(res.plan)
  np.testing.assert_allclose(float(res.objective),
                             np.sum(P * cost) + eps * np_kl(P, np.outer(a, b)), rtol=1e-9)
  f, g = np.asarray(res.f), np.asarray(res.g)
  np.testing.assert_allclose(np.outer(a, b) * np.exp((f[:, None] + g[None] - cost) / eps), P,
                             atol=1e-12)
  # Dual value equals the primal objective at convergence.
  np.testing.assert_allclose(f @ a + g @ b, float(res.objective), rtol=1e-8)


@pytest.mark.parametrize("convention,reg_type", [("entropy", "entropy"), ("kl", "kl")])
@pytest.mark.parametrize("mode", ["kernel", "log"])
def test_unbalanced_matches_pot(x64, convention, reg_type, mode):
  cost, a, b = ot_problem(3, 9, 14)
  a = 2.0 * a  # unequal masses
  eps, rho = 0.1, 0.7
  res = wot.unbalanced_sinkhorn(cost, a, b, epsilon=eps, rho=rho, convention=convention,
                                mode=mode, tol=1e-13, num_iters=50000)
  assert bool(res.converged)
  P_ref = ot.unbalanced.sinkhorn_knopp_unbalanced(
      a, b, cost, eps, rho, reg_type=reg_type, stopThr=1e-15, numItermax=200000)
  np.testing.assert_allclose(np.asarray(res.plan), P_ref, atol=1e-11)
  np.testing.assert_allclose(float(res.transport_cost), np.sum(P_ref * cost), rtol=1e-9)
  P = np.asarray(res.plan)
  reg = (np.sum(P * np.log(P) - P) if convention == "entropy" else np_kl(P, np.outer(a, b)))
  want = np.sum(P * cost) + eps * reg + rho * np_kl(P.sum(1), a) + rho * np_kl(P.sum(0), b)
  np.testing.assert_allclose(float(res.objective), want, rtol=1e-9)


def test_unbalanced_entropy_matches_ott_tau(x64):
  from ott.geometry import geometry
  from ott.problems.linear import linear_problem
  from ott.solvers.linear import sinkhorn as ott_sinkhorn

  cost, a, b = ot_problem(5, 8, 10)
  eps, rho = 0.1, 1.0
  tau = rho / (rho + eps)
  prob = linear_problem.LinearProblem(geometry.Geometry(cost_matrix=jnp.asarray(cost),
                                                        epsilon=eps),
                                      a=jnp.asarray(a), b=jnp.asarray(b), tau_a=tau, tau_b=tau)
  out = ott_sinkhorn.Sinkhorn(threshold=1e-12, max_iterations=20000)(prob)
  res = wot.unbalanced_sinkhorn(cost, a, b, epsilon=eps, rho=rho, tol=1e-13, num_iters=50000)
  np.testing.assert_allclose(np.asarray(res.plan), np.asarray(out.matrix), atol=1e-9)


def test_objective_gradient_matches_finite_differences(x64):
  rng = np.random.default_rng(7)
  x = jnp.asarray(rng.normal(size=(6, 2)))
  y = jnp.asarray(rng.normal(size=(9, 2)))
  w = jnp.asarray(rng.normal(size=(6, 2)))
  a = jnp.asarray(rng.random(6) + 0.2)
  a = a / a.sum()
  h = 1e-6
  solvers = {
      "sinkhorn": lambda c, a: wot.sinkhorn(c, a, None, epsilon=0.5, tol=1e-14,
                                            num_iters=50000).objective,
      "unbalanced": lambda c, a: wot.unbalanced_sinkhorn(
          c, a, None, epsilon=0.5, rho=2.0, tol=1e-14, num_iters=50000).objective,
      "unbalanced_kl": lambda c, a: wot.unbalanced_sinkhorn(
          c, a, None, epsilon=0.5, rho=2.0, convention="kl", tol=1e-14,
          num_iters=50000).objective,
  }
  for name, solve in solvers.items():
    f = lambda x: solve(wot.sqeuclidean(x, y), a)
    g = jax.grad(f)(x)
    fd = (f(x + h * w) - f(x - h * w)) / (2 * h)
    np.testing.assert_allclose(float(jnp.sum(g * w)), float(fd), rtol=1e-5, err_msg=name)
  # Gradient with respect to the weights (balanced: direction keeps the sum at 1).
  c = wot.sqeuclidean(x, y)
  da = jnp.asarray(rng.normal(size=6))
  da = da - da.mean()
  fa = lambda a: solvers["sinkhorn"](c, a)
  ga = jax.grad(fa)(a)
  fd = (fa(a + h * da) - fa(a - h * da)) / (2 * h)
  np.testing.assert_allclose(float(jnp.dot(ga, da)), float(fd), rtol=1e-5)


def test_unroll_gradient_matches_finite_differences(x64):
  cost, a, b = ot_problem(8, 5, 5)
  f = lambda q: wot.sinkhorn(cost, a, q, epsilon=0.1, num_iters=30, mode="log",
                             grad_mode="unroll").transport_cost
  db = np.random.default_rng(0).normal(size=5)
  db -= db.mean()
  h = 1e-6
  g = jax.grad(f)(jnp.asarray(b))
  fd = (f(b + h * db) - f(b - h * db)) / (2 * h)
  np.testing.assert_allclose(float(jnp.dot(g, db)), float(fd), rtol=1e-6)


@pytest.mark.parametrize("grad_mode", ["envelope", "unroll"])
@pytest.mark.parametrize("mode", ["kernel", "log"])
def test_gradient_at_a_zero_weight_is_finite_and_one_sided(x64, mode, grad_mode):
  # A probability vector with exact zeros (a softmax that underflowed, a masked point): the
  # gradient in the weights was NaN (xlogy's 0/0) in every mode. It must be the one-sided
  # derivative into the simplex, for OT(a, b) and for the self term OT(b, b) of a debiased
  # divergence, and the plan entropy must not give 0 * -inf in unroll mode.
  cost = 1.0 - jnp.eye(4)
  a = jnp.array([0.6, 0.0, 0.3, 0.1])
  b = jnp.array([0.9, 0.1, 0.0, 0.0])
  iters = 3000 if grad_mode == "envelope" else 400
  solve = lambda x, y: wot.sinkhorn(cost, x, y, epsilon=0.5, num_iters=iters, tol=1e-13,
                                    mode=mode, grad_mode=grad_mode).objective
  h = 1e-6
  move = jnp.array([0.0, -1.0, 1.0, 0.0])  # mass from class 1 into the empty class 2
  for name, f in {"ab": lambda q: solve(a, q), "bb": lambda q: solve(q, q)}.items():
    g = jax.grad(f)(b)
    assert bool(jnp.all(jnp.isfinite(g))), (name, g)
    fd = (f(b + h * move) - f(b)) / h
    np.testing.assert_allclose(float(jnp.dot(g, move)), float(fd), atol=1e-4, err_msg=name)
  if grad_mode == "unroll":  # unbalanced unroll: d b^fi / db = inf at 0 (documented)
    return
  for convention in ("entropy", "kl"):
    gu = jax.grad(lambda q: wot.unbalanced_sinkhorn(
        cost, a, q, epsilon=0.5, rho=1.0, convention=convention, num_iters=50, mode=mode,
        grad_mode=grad_mode).objective)(b)
    assert bool(jnp.all(jnp.isfinite(gu))), (convention, gu)


@pytest.mark.parametrize("solver", [
    functools.partial(wot.sinkhorn, epsilon=0.05),
    functools.partial(wot.unbalanced_sinkhorn, epsilon=0.1, rho=1.0),
])
def test_vmap_equals_loop(solver):
  costs = jnp.asarray(np.stack([ot_problem(s, 12, 12)[0] for s in range(3)]), jnp.float32)
  batched = jax.vmap(lambda c: solver(c))(costs)
  for i in range(3):
    single = solver(costs[i])
    np.testing.assert_allclose(np.asarray(batched.plan[i]), np.asarray(single.plan),
                               rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(float(batched.transport_cost[i]), float(single.transport_cost), rtol=1e-5)


def test_no_retrace_on_new_values():
  chex.clear_trace_counter()

  @jax.jit
  @chex.assert_max_traces(n=1)
  def f(c, a):
    return (wot.sinkhorn(c, a, None, epsilon=0.1).transport_cost
            + wot.unbalanced_sinkhorn(c, a, None, epsilon=0.1, rho=1.0).transport_cost)

  for s in range(3):
    cost, a, _ = ot_problem(s, 6, 7)
    f(jnp.asarray(cost, jnp.float32), jnp.asarray(a, jnp.float32))


@pytest.mark.parametrize("rel_eps", [1e-2, 1e-3])
def test_small_epsilon_float32_is_finite(rel_eps):
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(20, 3)), jnp.float32)
  y = jnp.asarray(rng.normal(size=(25, 3)) * 2.0, jnp.float32)

  def run(x, solver):
    c = wot.sqeuclidean(x, y)
    eps = rel_eps * jax.lax.stop_gradient(jnp.mean(c))
    return solver(c, eps)

  solvers = {
      "sinkhorn": lambda c, e: wot.sinkhorn(c, epsilon=e, num_iters=300).objective,
      "sinkhorn_cost": lambda c, e: wot.sinkhorn(c, epsilon=e, num_iters=300).transport_cost,
      "unbalanced": lambda c, e: wot.unbalanced_sinkhorn(c, epsilon=e, rho=1.0,
                                                         num_iters=300).transport_cost,
  }
  for name, s in solvers.items():
    v, g = jax.value_and_grad(lambda x: run(x, s))(x)
    assert np.isfinite(float(v)), name
    assert np.all(np.isfinite(np.asarray(g))), name
  # The kernel underflows here: the balanced value approaches exact OT, not NaN.
  c = np.asarray(wot.sqeuclidean(x, y), np.float64)
  exact = ot.emd2([], [], c)
  val = float(wot.sinkhorn(wot.sqeuclidean(x, y), epsilon=rel_eps * float(c.mean()),
                           num_iters=2000).transport_cost)
  assert abs(val - exact) / exact < 0.1


def test_kernel_mode_refuses_underflow():
  c = jnp.asarray(np.random.default_rng(0).random((4, 4)) * 100.0, jnp.float32)
  with pytest.raises(ValueError, match="underflow"):
    wot.sinkhorn(c, epsilon=0.01, mode="kernel")


@pytest.mark.parametrize("fn", [
    functools.partial(wot.sinkhorn, epsilon=0.1),
    functools.partial(wot.unbalanced_sinkhorn, epsilon=0.1, rho=1.0),
])
def test_bad_input_raises(fn):
  c = np.ones((3, 4))
  with pytest.raises(ValueError, match="a must have shape"):
    fn(c, np.ones(4) / 4)
  with pytest.raises(ValueError, match="non-negative"):
    fn(c, np.array([0.5, 0.7, -0.2]))
  with pytest.raises(ValueError, match="NaN"):
    fn(c, np.array([0.5, np.nan, 0.5]))
  with pytest.raises(ValueError, match="cost must be finite"):
    fn(np.array([[0.0, np.nan], [1.0, 0.0]]))
  with pytest.raises(ValueError, match="mode must be one of"):
    fn(c, mode="fast")


def test_balanced_weights_must_sum_to_one_but_unbalanced_need_not():
  c = np.ones((3, 3))
  with pytest.raises(ValueError, match="sum to 1"):
    wot.sinkhorn(c, np.array([0.5, 0.5, 0.5]), epsilon=0.1)
  res = wot.unbalanced_sinkhorn(c, np.array([0.5, 0.5, 0.5]), epsilon=0.1, rho=1.0)
  assert np.isfinite(float(res.transport_cost))
  with pytest.raises(ValueError, match="epsilon must be a finite positive"):
    wot.sinkhorn(c, epsilon=0.0)
  with pytest.raises(ValueError, match="rho must be a finite positive"):
    wot.unbalanced_sinkhorn(c, epsilon=0.1, rho=-1.0)
  with pytest.raises(ValueError, match="convention must be one of"):
    wot.unbalanced_sinkhorn(c, epsilon=0.1, rho=1.0, convention="l2")
