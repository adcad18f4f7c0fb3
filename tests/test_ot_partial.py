"""Partial OT (`wassml.ot.partial_wasserstein`, `entropic_partial_wasserstein`): parity with POT,
reduction to balanced OT, duals, jit/vmap/grad, input checks, and the partial-DA solver."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import ot  # POT: the independent reference.
import pytest

import wassml.ot as wot
from wassml import domain_adaptation as da
from wassml import train as wtrain
from tests.fixtures import TinyNet


def _problem(rng, n, m, sa=1.3, sb=0.9):
  """A random cost of both signs and non-uniform weights of totals ``sa`` and ``sb``."""
  x = rng.normal(size=(n, 3))
  y = rng.normal(size=(m, 3)) + 0.5
  cost = ot.dist(x, y)
  cost = cost / cost.max() - 0.2
  a = rng.random(n) + 0.1
  b = rng.random(m) + 0.1
  return cost, sa * a / a.sum(), sb * b / b.sum()


SHAPES = [(7, 11), (13, 5), (1, 4), (6, 6)]


# ----------------------------------------------------------------------------- exact
@pytest.mark.parametrize("frac", [0.3, 0.75, 1.0])
@pytest.mark.parametrize("shape", SHAPES)
def test_exact_matches_pot_float64(x64, shape, frac):
  rng = np.random.default_rng(shape[0] * 100 + shape[1])
  cost, a, b = _problem(rng, *shape)
  mass = frac * min(a.sum(), b.sum())
  res = wot.partial_wasserstein(cost, a, b, mass=mass)
  ref_plan = ot.partial.partial_wasserstein(a, b, cost, m=mass)
  ref_value = ot.partial.partial_wasserstein2(a, b, cost, m=mass)
  plan = np.asarray(res.plan)
  assert plan.dtype == np.float64
  np.testing.assert_allclose(plan, ref_plan, atol=1e-10)
  np.testing.assert_allclose(float(res.transport_cost), ref_value, rtol=1e-10, atol=1e-12)
  np.testing.assert_allclose(float(res.objective), ref_value, rtol=1e-10, atol=1e-12)
  np.testing.assert_allclose(plan.sum(), mass, rtol=1e-12)
  assert np.all(plan.sum(1) <= a + 1e-12) and np.all(plan.sum(0) <= b + 1e-12)
  assert bool(res.converged) and float(res.error) == 0.0


@pytest.mark.parametrize("shape", [(7, 11), (13, 5)])
def test_exact_duals_certify_optimality(x64, shape):
  """f, g are the duals of the inequality constraints: f, g <= 0, f_i + g_j + lam <= C_ij with
  equality on the support, and strong duality defines lam (so the certificate can fail)."""
  rng = np.random.default_rng(7)
  cost, a, b = _problem(rng, *shape)
  mass = 0.6 * min(a.sum(), b.sum())
  res = wot.partial_wasserstein(cost, a, b, mass=mass)
  f, g, plan = np.asarray(res.f), np.asarray(res.g), np.asarray(res.plan)
  lam = (float(res.transport_cost) - a @ f - b @ g) / mass
  assert f.max() <= 1e-12 and g.max() <= 1e-12
  reduced = cost - f[:, None] - g[None, :] - lam
  assert reduced.min() >= -1e-10
  np.testing.assert_allclose(reduced[plan > 1e-12], 0.0, atol=1e-10)
  # Complementary slackness: a strictly negative f_i only on a saturated row.
  slack = a - plan.sum(1)
  assert np.all(np.abs(f[slack > 1e-9]) <= 1e-10)
  # lam is the marginal value of mass: PW(m + h) - PW(m) ~ lam h (piecewise linear in m).
  h = 1e-7
  up = float(wot.partial_wasserstein(cost, a, b, mass=mass + h).transport_cost)
  np.testing.assert_allclose((up - float(res.transport_cost)) / h, lam, rtol=1e-5)


def test_exact_with_a_zero_weight_matches_pot(x64):
  rng = np.random.default_rng(3)
  cost, a, b = _problem(rng, 7, 11)
  a[2] = 0.0
  b[[0, 5]] = 0.0
  mass = 0.5 * min(a.sum(), b.sum())
  res = wot.partial_wasserstein(cost, a, b, mass=mass)
  np.testing.assert_allclose(res.plan, ot.partial.partial_wasserstein(a, b, cost, m=mass),
                             atol=1e-10)
  assert np.all(np.asarray(res.plan)[2] == 0.0)


def test_full_mass_reduces_to_emd(x64):
  rng = np.random.default_rng(11)
  cost, a, b = _problem(rng, 9, 6, sa=1.0, sb=1.0)
  res = wot.partial_wasserstein(cost, a, b, mass=1.0)
  bal = wot.emd(cost, a, b, method="host")
  np.testing.assert_allclose(res.plan, bal.plan, atol=1e-12)
  np.testing.assert_allclose(float(res.transport_cost), float(bal.transport_cost), rtol=1e-12)
  np.testing.assert_allclose(float(res.transport_cost), ot.emd2(a, b, cost), rtol=1e-10)
  # Unequal totals: the full mass min(sum a, sum b) saturates the lighter side only.
  cost, a, b = _problem(rng, 9, 6, sa=1.0, sb=2.5)
  res = wot.partial_wasserstein(cost, a, b, mass=1.0)
  np.testing.assert_allclose(np.asarray(res.plan).sum(1), a, atol=1e-12)
  assert np.asarray(res.plan).sum(0).max() < b.max() + 1e-12


def test_float32_exact_plan_mass_and_value():
  rng = np.random.default_rng(2)
  cost, a, b = _problem(rng, 13, 5)
  mass = 0.7 * min(a.sum(), b.sum())
  res = wot.partial_wasserstein(jnp.asarray(cost, jnp.float32), jnp.asarray(a, jnp.float32),
                                jnp.asarray(b, jnp.float32), mass=mass)
  assert res.plan.dtype == jnp.float32
  np.testing.assert_allclose(float(res.plan.sum()), mass, rtol=1e-5)
  np.testing.assert_allclose(float(res.transport_cost),
                             ot.partial.partial_wasserstein2(a, b, cost, m=mass), rtol=1e-5,
                             atol=1e-6)


# ----------------------------------------------------------------------------- entropic
def _pot_entropic(a, b, cost, eps, mass, method="sinkhorn"):
  return ot.partial.entropic_partial_wasserstein(a, b, cost, eps, m=mass, numItermax=20000,
                                                 stopThr=1e-15, method=method)


@pytest.mark.parametrize("mode", ["kernel", "log", "auto"])
@pytest.mark.parametrize("eps", [0.05, 0.5])
@pytest.mark.parametrize("shape", SHAPES)
def test_entropic_matches_pot_float64(x64, shape, eps, mode):
  rng = np.random.default_rng(shape[0] * 100 + shape[1] + 1)
  cost, a, b = _problem(rng, *shape)
  mass = 0.6 * min(a.sum(), b.sum())
  res = wot.entropic_partial_wasserstein(cost, a, b, mass=mass, epsilon=eps, num_iters=20000,
                                         tol=1e-13, mode=mode)
  ref = _pot_entropic(a, b, cost, eps, mass)
  plan = np.asarray(res.plan)
  assert bool(res.converged), (int(res.num_iters), float(res.error))
  np.testing.assert_allclose(plan, ref, atol=1e-10)
  np.testing.assert_allclose(float(res.transport_cost), np.sum(ref * cost), rtol=1e-9)
  ref_obj = np.sum(ref * cost) + eps * np.sum(ref * np.log(ref))
  np.testing.assert_allclose(float(res.objective), ref_obj, rtol=1e-9)
  np.testing.assert_allclose(plan.sum(), mass, rtol=1e-12)
  assert np.all(plan.sum(1) <= a * (1 + 1e-9)) and np.all(plan.sum(0) <= b * (1 + 1e-9))
  # The log-scalings reproduce the plan.
  rebuilt = np.exp((np.asarray(res.f)[:, None] + np.asarray(res.g)[None, :] - cost) / eps)
  np.testing.assert_allclose(rebuilt, plan, rtol=1e-9, atol=1e-300)


def test_entropic_is_not_the_unconstrained_scaling(x64):
  """The marginal constraints bind (Dykstra's corrections matter): the plan differs from the
  unconstrained Gibbs plan mass K / sum K, and equals POT's."""
  rng = np.random.default_rng(5)
  cost, a, b = _problem(rng, 7, 11)
  mass = 0.9 * min(a.sum(), b.sum())
  res = wot.entropic_partial_wasserstein(cost, a, b, mass=mass, epsilon=0.1, num_iters=20000,
                                         tol=1e-13)
  gibbs = np.exp(-cost / 0.1)
  gibbs *= mass / gibbs.sum()
  assert np.abs(np.asarray(res.plan) - gibbs).max() > 1e-2
  assert np.any(np.isclose(np.asarray(res.plan).sum(1), a, rtol=1e-8))  # a row saturates
  np.testing.assert_allclose(res.plan, _pot_entropic(a, b, cost, 0.1, mass), atol=1e-10)


def test_entropic_full_mass_is_sinkhorn(x64):
  """At mass = sum a = sum b the problem is balanced: the plan is POT's Sinkhorn plan."""
  rng = np.random.default_rng(8)
  cost, a, b = _problem(rng, 13, 5, sa=1.0, sb=1.0)
  res = wot.entropic_partial_wasserstein(cost, a, b, mass=1.0, epsilon=0.2, num_iters=50000,
                                         tol=1e-12)
  ref = ot.sinkhorn(a, b, cost, 0.2, numItermax=100000, stopThr=1e-14)
  np.testing.assert_allclose(res.plan, ref, atol=1e-9)


def test_entropic_zero_weight_rows_get_no_mass(x64):
  rng = np.random.default_rng(9)
  cost, a, b = _problem(rng, 7, 11)
  a[[1, 4]] = 0.0
  b[3] = 0.0
  mass = 0.8 * min(a.sum(), b.sum())
  for mode in ("kernel", "log"):
    res = wot.entropic_partial_wasserstein(cost, a, b, mass=mass, epsilon=0.1, num_iters=20000,
                                           tol=1e-12, mode=mode)
    plan = np.asarray(res.plan)
    assert np.all(np.isfinite(plan)) and bool(res.converged)
    assert np.all(plan[[1, 4]] == 0.0) and np.all(plan[:, 3] == 0.0)
    np.testing.assert_allclose(plan.sum(), mass, rtol=1e-10)
    # Same plan as on the problem with those bins removed (POT on the reduced problem).
    keep_r, keep_c = a > 0, b > 0
    ref = _pot_entropic(a[keep_r], b[keep_c], cost[np.ix_(keep_r, keep_c)], 0.1, mass)
    np.testing.assert_allclose(plan[np.ix_(keep_r, keep_c)], ref, atol=1e-10)


def test_entropic_float32_kernel_and_log_domain():
  """Float32 with the default tol: within the kernel's safe range, and far beyond it (auto
  switches to the log domain) against POT's float64 log-domain solver."""
  rng = np.random.default_rng(4)
  cost, a, b = _problem(rng, 13, 5)
  mass = 0.6 * min(a.sum(), b.sum())
  c32, a32, b32 = (jnp.asarray(x, jnp.float32) for x in (cost, a, b))
  for eps, method in ((0.1, "sinkhorn"), (0.004, "sinkhorn_log")):  # range/eps ~ 10 and ~ 250
    res = wot.entropic_partial_wasserstein(c32, a32, b32, mass=mass, epsilon=eps,
                                           num_iters=20000)
    assert res.plan.dtype == jnp.float32
    ref = _pot_entropic(a, b, cost, eps, mass, method=method)
    assert bool(res.converged), (eps, int(res.num_iters), float(res.error))
    np.testing.assert_allclose(np.asarray(res.plan), ref, atol=2e-5)
    np.testing.assert_allclose(float(res.transport_cost), np.sum(ref * cost), rtol=1e-4,
                               atol=1e-6)
  with pytest.raises(ValueError, match="log-domain"):
    wot.entropic_partial_wasserstein(c32, a32, b32, mass=mass, epsilon=0.004, mode="kernel")


def test_entropic_stopping_criterion_in_mass_units(x64):
  rng = np.random.default_rng(6)
  cost, a, b = _problem(rng, 7, 11)
  mass = 0.6 * min(a.sum(), b.sum())
  kw = dict(mass=mass, epsilon=0.05, check_every=1)
  short = wot.entropic_partial_wasserstein(cost, a, b, num_iters=5, tol=0.0, **kw)
  prev = wot.entropic_partial_wasserstein(cost, a, b, num_iters=4, tol=0.0, **kw)
  assert int(short.num_iters) == 5 and not bool(short.converged)
  plan, prev_plan = np.asarray(short.plan), np.asarray(prev.plan)
  excess = np.maximum(plan.sum(1) - a, 0).sum() + np.maximum(plan.sum(0) - b, 0).sum()
  change = np.abs(plan - prev_plan).sum()
  assert excess > 1e-4 and change > 1e-4  # both terms matter this early
  np.testing.assert_allclose(float(short.error), change + excess, rtol=1e-8)
  loose = wot.entropic_partial_wasserstein(cost, a, b, num_iters=20000, tol=1e-3, **kw)
  tight = wot.entropic_partial_wasserstein(cost, a, b, num_iters=20000, tol=1e-10, **kw)
  assert bool(loose.converged) and float(loose.error) <= 1e-3 * mass
  assert int(loose.num_iters) < int(tight.num_iters)


# ----------------------------------------------------------------------------- jit / vmap / grad
def _batch(rng, k=3, n=7, m=11):
  probs = [_problem(rng, n, m) for _ in range(k)]
  costs = np.stack([p[0] for p in probs])
  a, b = probs[0][1], probs[0][2]
  masses = np.array([0.3, 0.6, 0.85]) * min(a.sum(), b.sum())
  return costs, a, b, masses


@pytest.mark.parametrize("solver", ["exact", "entropic"])
def test_jit_and_vmap_equal_a_python_loop(x64, solver):
  rng = np.random.default_rng(12)
  costs, a, b, masses = _batch(rng)
  if solver == "exact":
    fn = lambda c, mass: wot.partial_wasserstein(c, a, b, mass=mass)
  else:
    fn = lambda c, mass: wot.entropic_partial_wasserstein(c, a, b, mass=mass, epsilon=0.1,
                                                          mode="kernel", tol=1e-12)
  loop = [fn(c, mass) for c, mass in zip(costs, masses)]
  batched = jax.jit(jax.vmap(fn))(jnp.asarray(costs), jnp.asarray(masses))
  jitted = jax.jit(fn)(jnp.asarray(costs[1]), jnp.asarray(masses[1]))
  for i, ref in enumerate(loop):
    np.testing.assert_allclose(batched.plan[i], ref.plan, atol=1e-12)
    np.testing.assert_allclose(batched.transport_cost[i], ref.transport_cost, rtol=1e-12)
    np.testing.assert_allclose(batched.plan[i].sum(), masses[i], rtol=1e-10)
  np.testing.assert_allclose(jitted.plan, loop[1].plan, atol=1e-12)
  # The three masses give three different plans (the batch is not one problem repeated).
  assert float(jnp.abs(batched.plan[0] - batched.plan[2]).max()) > 1e-3


def test_exact_gradient_is_the_plan_and_matches_finite_differences(x64):
  rng = np.random.default_rng(13)
  cost, a, b = _problem(rng, 7, 11)
  mass = 0.6 * min(a.sum(), b.sum())
  value = lambda c: wot.partial_wasserstein(c, a, b, mass=mass).transport_cost
  grad = np.asarray(jax.grad(value)(jnp.asarray(cost)))
  plan = np.asarray(wot.partial_wasserstein(cost, a, b, mass=mass).plan)
  np.testing.assert_allclose(grad, plan, atol=1e-12)
  direction = rng.normal(size=cost.shape)
  h = 1e-6  # the optimal plan is unique and stays optimal for a small perturbation
  fd = (float(value(cost + h * direction)) - float(value(cost - h * direction))) / (2 * h)
  np.testing.assert_allclose(fd, np.sum(plan * direction), rtol=1e-6)


def test_exact_weight_and_mass_gradients_are_the_duals(x64):
  rng = np.random.default_rng(16)
  cost, a, b = _problem(rng, 13, 5)
  mass = 0.6 * min(a.sum(), b.sum())
  value = lambda a_, b_, m_: wot.partial_wasserstein(cost, a_, b_, mass=m_).transport_cost
  res = wot.partial_wasserstein(cost, a, b, mass=mass)
  ga, gb, gm = jax.grad(value, argnums=(0, 1, 2))(jnp.asarray(a), jnp.asarray(b),
                                                   jnp.asarray(mass))
  np.testing.assert_allclose(ga, res.f, atol=1e-12)
  np.testing.assert_allclose(gb, res.g, atol=1e-12)
  assert np.abs(np.asarray(ga)).max() > 1e-3  # some rows saturate: not all-zero duals
  h = 1e-7  # the LP value is piecewise linear; a small step keeps the optimal basis
  da_, db_ = rng.normal(size=a.shape) * a, rng.normal(size=b.shape) * b
  fd_a = (float(value(a + h * da_, b, mass)) - float(value(a - h * da_, b, mass))) / (2 * h)
  fd_b = (float(value(a, b + h * db_, mass)) - float(value(a, b - h * db_, mass))) / (2 * h)
  fd_m = (float(value(a, b, mass + h)) - float(value(a, b, mass - h))) / (2 * h)
  np.testing.assert_allclose(fd_a, np.dot(np.asarray(ga), da_), rtol=1e-5, atol=1e-9)
  np.testing.assert_allclose(fd_b, np.dot(np.asarray(gb), db_), rtol=1e-5, atol=1e-9)
  np.testing.assert_allclose(fd_m, float(gm), rtol=1e-5)


def test_entropic_gradient_is_the_plan_and_matches_finite_differences(x64):
  rng = np.random.default_rng(14)
  cost, a, b = _problem(rng, 13, 5)
  mass = 0.6 * min(a.sum(), b.sum())
  kw = dict(mass=mass, epsilon=0.1, num_iters=20000, tol=1e-13)
  res = wot.entropic_partial_wasserstein(cost, a, b, **kw)
  g_cost = jax.grad(lambda c: wot.entropic_partial_wasserstein(c, a, b, **kw).transport_cost)(
      jnp.asarray(cost))
  g_obj = jax.grad(lambda c: wot.entropic_partial_wasserstein(c, a, b, **kw).objective)(
      jnp.asarray(cost))
  np.testing.assert_allclose(g_cost, res.plan, atol=1e-14)
  np.testing.assert_allclose(g_obj, res.plan, atol=1e-14)
  # Envelope theorem: the derivative of the optimal objective is <P, D>.
  direction = rng.normal(size=cost.shape)
  h = 1e-5
  obj = lambda c: float(wot.entropic_partial_wasserstein(c, a, b, **kw).objective)
  fd = (obj(cost + h * direction) - obj(cost - h * direction)) / (2 * h)
  np.testing.assert_allclose(fd, np.sum(np.asarray(res.plan) * direction), rtol=1e-6)


@pytest.mark.parametrize("solver", ["exact", "entropic"])
def test_invalid_mass_under_jit_gives_nan_and_not_converged(solver):
  rng = np.random.default_rng(15)
  cost, a, b = (jnp.asarray(x, jnp.float32) for x in _problem(rng, 7, 11))
  if solver == "exact":
    fn = jax.jit(lambda mass: wot.partial_wasserstein(cost, a, b, mass=mass))
  else:
    fn = jax.jit(lambda mass: wot.entropic_partial_wasserstein(cost, a, b, mass=mass,
                                                               epsilon=0.1))
  good = fn(jnp.float32(0.5))
  assert bool(good.converged) and np.isfinite(float(good.transport_cost))
  for mass in (-0.1, 0.0, 5.0, np.nan):
    out = fn(jnp.float32(mass))
    assert not bool(out.converged)
    assert np.all(np.isnan(np.asarray(out.plan))) and np.isnan(float(out.transport_cost))


# ----------------------------------------------------------------------------- input checks
@pytest.mark.parametrize("fn", [
    wot.partial_wasserstein,
    lambda *args, **kw: wot.entropic_partial_wasserstein(*args, epsilon=0.1, **kw)])
def test_bad_input_raises_naming_the_argument(fn):
  rng = np.random.default_rng(0)
  cost, a, b = _problem(rng, 7, 11)
  with pytest.raises(ValueError, match=r"a must have shape \(7,\)"):
    fn(cost, a[:-1], b, mass=0.5)
  with pytest.raises(ValueError, match=r"b must have shape \(11,\)"):
    fn(cost, a, np.ones(7), mass=0.5)
  with pytest.raises(ValueError, match="a must be non-negative"):
    fn(cost, -a, b, mass=0.5)
  with pytest.raises(ValueError, match="b contains NaN"):
    fn(cost, a, np.where(np.arange(11) == 2, np.nan, b), mass=0.5)
  with pytest.raises(ValueError, match="cost must be finite"):
    fn(np.where(cost > 0.5, np.inf, cost), a, b, mass=0.5)
  for bad in (0.0, -1.0, np.nan, np.inf):
    with pytest.raises(ValueError, match="mass must be a finite number > 0"):
      fn(cost, a, b, mass=bad)
  with pytest.raises(ValueError, match=r"mass must be <= min\(sum\(a\), sum\(b\)\)"):
    fn(cost, a, b, mass=0.91)  # sum(b) = 0.9 < sum(a) = 1.3
  with pytest.raises(ValueError, match="mass must be a scalar"):
    fn(cost, a, b, mass=np.array([0.5, 0.5]))
  # The bound itself is allowed (up to rounding of the sums).
  assert np.isfinite(float(fn(cost, a, b, mass=float(b.sum())).transport_cost))


def test_entropic_settings_are_checked():
  rng = np.random.default_rng(0)
  cost, a, b = _problem(rng, 7, 11)
  for eps in (0.0, -0.1, np.nan):
    with pytest.raises(ValueError, match="epsilon must be a finite positive number"):
      wot.entropic_partial_wasserstein(cost, a, b, mass=0.5, epsilon=eps)
  with pytest.raises(ValueError, match="mode must be one of"):
    wot.entropic_partial_wasserstein(cost, a, b, mass=0.5, epsilon=0.1, mode="fast")
  with pytest.raises(ValueError, match="num_iters must be >= 1"):
    wot.entropic_partial_wasserstein(cost, a, b, mass=0.5, epsilon=0.1, num_iters=0)
  with pytest.raises(ValueError, match="check_every must be >= 1"):
    wot.entropic_partial_wasserstein(cost, a, b, mass=0.5, epsilon=0.1, check_every=0)


# ----------------------------------------------------------------------------- partial DA


def _two_blobs(n=24, m=16):
  rng = np.random.default_rng(0)
  ys = np.repeat(np.arange(2), n // 2)
  xs = rng.normal(size=(n, 2)) * 0.3 + np.array([[0.0, 0.0], [3.0, 0.0]])[ys]
  xt = rng.normal(size=(m, 2)) * 0.3 + np.array([0.5, 0.5])
  return {"xs": jnp.asarray(xs, jnp.float32), "ys": jnp.asarray(ys, jnp.int32),
          "xt": jnp.asarray(xt, jnp.float32)}


@pytest.mark.parametrize("epsilon", [None, 0.5])
def test_partial_deepjdot_training_step(epsilon):
  """One jitted joint-OT training step with the partial solver: finite metrics, plan mass =
  mass, and the parameters move."""
  batch = _two_blobs()
  model = da.DAModel(TinyNet(2))
  state = wtrain.create_train_state(jax.random.key(0), model, batch["xs"], optax.adam(1e-2))
  solver = da.make_solver("partial_deepjdot", mass=0.6, epsilon=epsilon, num_iters=2000)
  loss = da.make_joint_ot_loss(model.apply, solver=solver, eta1=0.1, eta2=0.1)
  step = jax.jit(wtrain.make_step(loss))
  new_state, metrics = step(state, batch, jax.random.key(1))
  assert all(np.isfinite(float(v)) for v in metrics.values()), metrics
  np.testing.assert_allclose(float(metrics["plan_mass"]), 0.6, rtol=1e-5)
  assert int(new_state.step) == 1
  moved = jax.tree_util.tree_map(lambda p, q: float(jnp.abs(p - q).max()), state.params,
                                 new_state.params)
  assert max(jax.tree_util.tree_leaves(moved)) > 0


def test_partial_deepjdot_leaves_out_a_missing_source_class():
  """Partial DA: the target holds class 0 only; with mass = its share, exact partial OT moves
  (almost) nothing out of the missing class, unlike balanced DeepJDOT."""
  rng = np.random.default_rng(1)
  centres = np.array([[0.0, 0.0], [4.0, 0.0]])
  ys = np.repeat(np.arange(2), 10)
  fs = jnp.asarray(centres[ys] + 0.1 * rng.normal(size=(20, 2)), jnp.float32)
  ft = jnp.asarray(centres[np.zeros(10, int)] + 0.1 * rng.normal(size=(10, 2)), jnp.float32)
  lt = jnp.asarray(5.0 * np.eye(2)[np.zeros(10, int)], jnp.float32)
  ys = jnp.asarray(ys)
  masses = {}
  for name, solver in (("balanced", da.make_solver("deepjdot")),
                       ("partial", da.make_solver("partial_deepjdot", mass=0.5))):
    out = da.joint_ot_loss(fs, ys, ft, lt, solver=solver, eta1=1.0, eta2=0.1)
    masses[name] = np.asarray(da.plan_mass_per_class(out.plan, ys, 2))
  np.testing.assert_allclose(masses["balanced"], [0.5, 0.5], atol=1e-5)
  np.testing.assert_allclose(masses["partial"], [0.5, 0.0], atol=1e-5)


def test_make_solver_partial_checks():
  with pytest.raises(ValueError, match="needs mass"):
    da.make_solver("partial_deepjdot")
  with pytest.raises(ValueError, match="mass must be a finite positive number"):
    da.make_solver("partial_deepjdot", mass=0.0)
  with pytest.raises(ValueError, match="epsilon must be a finite positive number"):
    da.make_solver("partial_deepjdot", mass=0.5, epsilon=-1.0)
  with pytest.raises(ValueError, match="mass must be <= min"):
    da.make_solver("partial_deepjdot", mass=1.5)(jnp.zeros((3, 4)), None, None)
  # Not a method-name harness entry (it needs mass): make_da_loss rejects it.
  assert "partial_deepjdot" not in da.METHODS
  with pytest.raises(ValueError, match="unknown DA method"):
    da.make_da_loss("partial_deepjdot", lambda *a, **k: None)
