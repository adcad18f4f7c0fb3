"""Point-cloud ("online") Sinkhorn, `wassml.ot.online`: POT and dense-solver parity, blocked
plan products, envelope gradients, vmap, warm start, the iteration cap, memory (no n x m array
in the program), input checks, and a smoke run of the benchmark script."""

import doctest
import json
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import ot  # POT: independent reference only.
import pytest

import wassml.ot as wot
from wassml.ot import online


def _clouds(seed, n, m, d=3):
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(n, d))
  y = rng.normal(size=(m, d)) + 0.5
  a = rng.random(n) + 0.1
  b = rng.random(m) + 0.1
  return x, y, a / a.sum(), b / b.sum()


def _plan(f, g, a, b, cost, eps):
  f, g = np.asarray(f), np.asarray(g)
  return np.outer(a, b) * np.exp((f[:, None] + g[None, :] - cost) / eps)


def _shift(f_ref, f):
  """The constant ``c`` of ``(f + c, g - c)`` that aligns two balanced solutions."""
  return float(np.mean(np.asarray(f_ref) - np.asarray(f)))


# 37 x 23 points, blocks of 8 (neither divisible), of 1 and of 1000 (one block, no padding).
@pytest.mark.parametrize("block_size", [8, 1, 1000])
def test_matches_pot_and_dense_sinkhorn(x64, block_size):
  x, y, a, b = _clouds(0, 37, 23)
  eps = 0.3
  cost = ot.dist(x, y)   # squared Euclidean
  res = wot.online_sinkhorn(x, y, a, b, epsilon=eps, block_size=block_size, tol=1e-12,
                            num_iters=20000)
  assert bool(res.converged) and float(res.error) <= 1e-12
  assert res.plan is None
  ref_plan, log = ot.sinkhorn(a, b, cost, eps, method="sinkhorn_log", stopThr=1e-14,
                              numItermax=100000, log=True)
  ref_cost = ot.sinkhorn2(a, b, cost, eps, stopThr=1e-14, numItermax=100000)
  np.testing.assert_allclose(float(res.transport_cost), ref_cost, rtol=1e-10)
  P = _plan(res.f, res.g, a, b, cost, eps)
  np.testing.assert_allclose(P, ref_plan, atol=1e-12)
  # POT's log-scalings -> potentials relative to a b^T; equal up to (f + c, g - c).
  f_pot = eps * log["log_u"] - eps * np.log(a)
  g_pot = eps * log["log_v"] - eps * np.log(b)
  c = _shift(f_pot, res.f)
  np.testing.assert_allclose(np.asarray(res.f) + c, f_pot, atol=1e-9)
  np.testing.assert_allclose(np.asarray(res.g) - c, g_pot, atol=1e-9)
  # The dense wassml solver on the same cost: same plan, potentials, values.
  dense = wot.sinkhorn(wot.sqeuclidean(x, y), a, b, epsilon=eps, tol=1e-12, num_iters=20000)
  np.testing.assert_allclose(P, np.asarray(dense.plan), atol=1e-12)
  np.testing.assert_allclose(float(res.transport_cost), float(dense.transport_cost), rtol=1e-10)
  np.testing.assert_allclose(float(res.objective), float(dense.objective), rtol=1e-10)
  c = _shift(dense.f, res.f)
  np.testing.assert_allclose(np.asarray(res.f) + c, np.asarray(dense.f), atol=1e-9)
  np.testing.assert_allclose(np.asarray(res.g) - c, np.asarray(dense.g), atol=1e-9)
  # Blocked plan products against the formed plan.
  v = np.random.default_rng(1).normal(size=(23, 4))
  w = np.random.default_rng(2).normal(size=37)
  kw = dict(epsilon=eps, block_size=block_size)
  np.testing.assert_allclose(online.apply_plan(res, x, y, v, a, b, **kw), P @ v, atol=1e-12)
  np.testing.assert_allclose(online.apply_plan((res.f, res.g), x, y, w, a, b, transpose=True,
                                               **kw), P.T @ w, atol=1e-12)
  np.testing.assert_allclose(online.apply_plan(res, x, y, np.ones(23), a, b, **kw), a,
                             atol=1e-12)
  np.testing.assert_allclose(online.apply_plan(res, x, y, np.ones(37), a, b, transpose=True,
                                               **kw), b, atol=1e-13)


@pytest.mark.parametrize("p", [1.0, 1.5])
def test_euclidean_power_cost_matches_pot(x64, p):
  x, y, a, b = _clouds(3, 19, 26)
  eps = 0.2
  cost = np.asarray(wot.euclidean_power(x, y, p))
  np.testing.assert_allclose(cost, np.sqrt(ot.dist(x, y)) ** p, rtol=1e-12)
  res = wot.online_sinkhorn(x, y, a, b, epsilon=eps, cost="euclidean_power", p=p,
                            block_size=5, tol=1e-12, num_iters=20000)
  assert bool(res.converged)
  ref = ot.sinkhorn2(a, b, cost, eps, stopThr=1e-14, numItermax=100000)
  np.testing.assert_allclose(float(res.transport_cost), ref, rtol=1e-10)
  np.testing.assert_allclose(_plan(res.f, res.g, a, b, cost, eps),
                             ot.sinkhorn(a, b, cost, eps, stopThr=1e-14, numItermax=100000),
                             atol=1e-12)


def test_envelope_gradient_matches_dense_sinkhorn(x64):
  x, y, a, b = _clouds(4, 29, 17)
  eps = 0.25
  kw = dict(epsilon=eps, tol=1e-12, num_iters=20000)

  def dense(x, y, a, b):
    return wot.sinkhorn(wot.sqeuclidean(x, y), a, b, **kw).objective

  def dense_transport(x, y):
    return wot.sinkhorn(wot.sqeuclidean(x, y), a, b, **kw).transport_cost

  def loss(x, y, a, b):
    return online.online_sinkhorn_loss(x, y, a, b, block_size=6, **kw)

  value, (gx, gy, ga, gb) = jax.value_and_grad(loss, argnums=(0, 1, 2, 3))(x, y, a, b)
  dvalue, (dx, dy, da, db) = jax.value_and_grad(dense, argnums=(0, 1, 2, 3))(x, y, a, b)
  np.testing.assert_allclose(float(value), float(dvalue), rtol=1e-10)
  np.testing.assert_allclose(gx, dx, atol=1e-10)
  np.testing.assert_allclose(gy, dy, atol=1e-10)
  # d/da = f, d/db = g: each solver's own potentials, which differ by the shift (f + c, g - c).
  c = _shift(da, ga)
  np.testing.assert_allclose(np.asarray(ga) + c, da, atol=1e-9)
  np.testing.assert_allclose(np.asarray(gb) - c, db, atol=1e-9)
  # The envelope formula itself: d OT / d x_i = sum_j P_ij 2 (x_i - y_j).
  res = wot.online_sinkhorn(x, y, a, b, block_size=6, **kw)
  P = _plan(res.f, res.g, a, b, np.asarray(wot.sqeuclidean(x, y)), eps)
  np.testing.assert_allclose(gx, 2 * (P.sum(1)[:, None] * x - P @ y), atol=1e-10)
  np.testing.assert_allclose(gy, 2 * (P.sum(0)[:, None] * y - P.T @ x), atol=1e-10)
  np.testing.assert_allclose(ga, res.f, atol=1e-10)
  np.testing.assert_allclose(gb, res.g, atol=1e-10)
  # transport_cost: the plan is held fixed (d <P, C> / dC = P), as for the dense solver.
  tx, ty = jax.grad(lambda x, y: wot.online_sinkhorn(x, y, a, b, block_size=6, **kw)
                    .transport_cost, argnums=(0, 1))(x, y)
  ex, ey = jax.grad(dense_transport, argnums=(0, 1))(x, y)
  np.testing.assert_allclose(tx, ex, atol=1e-10)
  np.testing.assert_allclose(ty, ey, atol=1e-10)


def test_zero_weights_give_finite_potentials_and_gradients(x64):
  x, y, a, b = _clouds(5, 12, 9)
  a[[0, 5]] = 0.0
  b[3] = 0.0
  a, b = a / a.sum(), b / b.sum()
  eps = 0.3
  kw = dict(epsilon=eps, tol=1e-12, num_iters=20000)
  res = wot.online_sinkhorn(x, y, a, b, block_size=5, **kw)
  dense = wot.sinkhorn(wot.sqeuclidean(x, y), a, b, **kw)
  assert bool(res.converged)
  # Where a weight is 0 both solvers extend the potential by the soft c-transform.
  c = _shift(dense.f, res.f)
  np.testing.assert_allclose(np.asarray(res.f) + c, dense.f, atol=1e-9)
  np.testing.assert_allclose(np.asarray(res.g) - c, dense.g, atol=1e-9)
  ga, gb = jax.grad(lambda a, b: online.online_sinkhorn_loss(x, y, a, b, block_size=5, **kw),
                    argnums=(0, 1))(a, b)
  np.testing.assert_allclose(ga, res.f, atol=1e-9)
  np.testing.assert_allclose(gb, res.g, atol=1e-9)
  gx = jax.grad(lambda x: online.online_sinkhorn_loss(x, y, a, b, block_size=5, **kw))(x)
  gx = np.asarray(gx)
  assert np.all(np.isfinite(gx)) and np.allclose(gx[[0, 5]], 0.0)


def test_float32_vmap_equals_loop_and_dense():
  x, y, a, b = (jnp.asarray(v, jnp.float32) for v in _clouds(6, 40, 30))
  xs = jnp.stack([x, 1.2 * x, x + 0.3])
  solve = lambda xx: wot.online_sinkhorn(xx, y, a, b, epsilon=0.5, block_size=16)
  batched = jax.vmap(solve)(xs)
  for i, xx in enumerate(xs):
    one = solve(xx)
    assert bool(one.converged) and bool(batched.converged[i])
    np.testing.assert_allclose(batched.transport_cost[i], one.transport_cost, rtol=1e-5)
    np.testing.assert_allclose(batched.objective[i], one.objective, rtol=1e-5)
    c = _shift(one.f, batched.f[i])
    np.testing.assert_allclose(batched.f[i] + c, one.f, atol=1e-4)
    dense = wot.sinkhorn(wot.sqeuclidean(xx, y), a, b, epsilon=0.5)
    np.testing.assert_allclose(one.transport_cost, dense.transport_cost, rtol=1e-4)


def test_warm_start_converges_in_fewer_iterations(x64):
  x, y, a, b = _clouds(7, 50, 40)
  kw = dict(epsilon=0.05, block_size=16, tol=1e-10, num_iters=20000)
  first = wot.online_sinkhorn(x, y, a, b, **kw)
  x2 = x + 0.01 * np.random.default_rng(8).normal(size=x.shape)
  cold = wot.online_sinkhorn(x2, y, a, b, **kw)
  warm = wot.online_sinkhorn(x2, y, a, b, init=first, **kw)
  warm_pair = wot.online_sinkhorn(x2, y, a, b, init=(first.f, first.g), **kw)
  assert bool(cold.converged) and bool(warm.converged)
  # Sinkhorn converges linearly: a warm start saves the transient, not the rate.
  assert int(warm.num_iters) < int(cold.num_iters) - 100, (warm.num_iters, cold.num_iters)
  assert int(warm_pair.num_iters) == int(warm.num_iters)
  np.testing.assert_allclose(float(warm.transport_cost), float(cold.transport_cost), rtol=1e-8)
  # Restarted from its own solution, a problem stops at the first check.
  again = wot.online_sinkhorn(x, y, a, b, init=first, **dict(kw, check_every=5))
  assert int(again.num_iters) == 5 and bool(again.converged)


def test_num_iters_is_a_hard_max_and_nan_input_under_jit_does_not_hang():
  x, y, a, b = _clouds(9, 20, 20)
  res = wot.online_sinkhorn(x, y, epsilon=0.01, num_iters=7, check_every=5, tol=0.0)
  assert int(res.num_iters) == 7 and not bool(res.converged)
  assert float(res.error) > 0
  one = wot.online_sinkhorn(x, y, epsilon=0.01, num_iters=1)
  assert int(one.num_iters) == 1
  bad = jnp.asarray(x, jnp.float32).at[3, 1].set(jnp.nan)
  out = jax.jit(lambda x: wot.online_sinkhorn(x, y, epsilon=0.5, num_iters=30))(bad)
  assert int(out.num_iters) == 30 and not bool(out.converged)
  assert not np.isfinite(float(out.error))


def _largest_array(jaxpr_text):
  sizes = [int(np.prod([int(s) for s in dims.split(",") if s])) if dims else 1
           for dims in re.findall(r"f(?:32|64)\[([0-9,]*)\]", jaxpr_text)]
  return max(sizes)


def test_no_n_by_m_array_is_ever_formed():
  """Neither the solve nor its gradient holds an array anywhere near n x m elements (the largest
  is a [block, max(n, m)] tile)."""
  n, m, block = 300, 200, 32
  x, y, a, b = (jnp.asarray(v, jnp.float32) for v in _clouds(10, n, m))
  solve = lambda x, y: wot.online_sinkhorn(x, y, a, b, epsilon=0.5, block_size=block)
  fwd = str(jax.make_jaxpr(lambda x, y: solve(x, y).objective)(x, y))
  bwd = str(jax.make_jaxpr(jax.grad(lambda x, y: solve(x, y).objective, argnums=(0, 1)))(x, y))
  assert _largest_array(fwd) <= block * n, _largest_array(fwd)
  assert _largest_array(bwd) <= block * n, _largest_array(bwd)
  vec = jnp.ones((m, 2))
  prod = str(jax.make_jaxpr(lambda f, g: online.apply_plan(
      (f, g), x, y, vec, a, b, epsilon=0.5, block_size=block))(jnp.zeros(n), jnp.zeros(m)))
  assert _largest_array(prod) <= block * n


@pytest.mark.parametrize("kwargs,match", [
    (dict(x=np.zeros((4, 2)), y=np.zeros((5, 3))), "same dimension"),
    (dict(x=np.zeros(4)), "x must have 2 dimension"),
    (dict(x=np.zeros((0, 2))), "non-empty"),
    (dict(x=np.full((4, 2), np.nan)), "x must be finite"),
    (dict(a=np.full(3, 1 / 3)), "a must have shape"),
    (dict(a=np.array([0.5, 0.5, 0.5, -0.5])), "a must be non-negative"),
    (dict(b=np.full(5, 0.3)), "b must sum to 1"),
    (dict(epsilon=0.0), "epsilon"),
    (dict(epsilon=-1.0), "epsilon"),
    (dict(cost="cosine"), "cost must be one of"),
    (dict(cost="euclidean_power", p=0.0), "p must be"),
    (dict(block_size=0), "block_size"),
    (dict(block_size=2.5), "block_size"),
    (dict(num_iters=0), "num_iters"),
    (dict(check_every=0), "check_every"),
    (dict(init=(np.zeros(4), np.zeros(4))), r"init\[1\] \(g\) must have shape \(5,\)"),
    (dict(init=(np.zeros(4), np.full(5, np.inf))), "init.*must be finite"),
])
def test_bad_input_raises(kwargs, match):
  args = dict(x=np.zeros((4, 2)), y=np.ones((5, 2)), a=None, b=None, epsilon=0.1)
  args.update(kwargs)
  x, y, a, b = args.pop("x"), args.pop("y"), args.pop("a"), args.pop("b")
  with pytest.raises(ValueError, match=match):
    wot.online_sinkhorn(x, y, a, b, **args)


def test_apply_plan_bad_input_raises():
  x, y = np.zeros((4, 2)), np.ones((5, 2))
  pot = (np.zeros(4), np.zeros(5))
  with pytest.raises(ValueError, match=r"vec must have shape \(5,\)"):
    online.apply_plan(pot, x, y, np.ones(4), epsilon=0.1)
  with pytest.raises(ValueError, match=r"vec must have shape \(4,\)"):
    online.apply_plan(pot, x, y, np.ones(5), epsilon=0.1, transpose=True)
  with pytest.raises(ValueError, match=r"potentials\[0\]"):
    online.apply_plan((np.zeros(5), np.zeros(5)), x, y, np.ones(5), epsilon=0.1)


def test_loss_return_output():
  x, y, _, _ = _clouds(11, 10, 12)
  value, out = online.online_sinkhorn_loss(x, y, epsilon=0.5, return_output=True)
  assert isinstance(out, wot.OTResult) and out.plan is None
  assert float(value) == float(out.objective)


def test_docstring_example():
  result = doctest.testmod(online, optionflags=doctest.NORMALIZE_WHITESPACE)
  assert result.attempted > 0 and result.failed == 0


def test_benchmark_script_runs(tmp_path):
  cmd = [sys.executable, "-m", "experiments.bench_ot.online", f"--workdir={tmp_path}",
         "--n=300", "--m=200", "--d=8", "--block_size=64", "--num_iters=200",
         "--dense_check=true"]
  subprocess.run(cmd, check=True, capture_output=True, timeout=600)
  res = json.loads((tmp_path / "results.json").read_text())
  # No timing is asserted: on a problem this small the per-iteration time is a difference of
  # two short runs and can come out negative on a busy machine. Only that it was measured.
  assert res["iterations"] > 0 and np.isfinite(res["time_per_iteration_s"])
  assert set(res["fixed_iteration_solve_s"]) == {"2", str(2 + 10)}
  assert res["dense_cost_matrix_float32_bytes"] == 300 * 200 * 4
  assert res["dense_check"]["rel_transport_cost_diff"] < 1e-4
  assert "command" in res["meta"]
