"""Tests of wassml.domain_adaptation: joint cost, coupling step, DeepJDOT/JUMBOT, DANN, checks."""


import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import ot as pot  # POT: the independent reference (test extra)

pytestmark = pytest.mark.filterwarnings("ignore:If reg_type = entropy:UserWarning")

from wassml import ot as wot
from wassml import train as wtrain
from wassml import domain_adaptation as da
from tests.fixtures import TinyNet


# ----------------------------------------------------------------------------- helpers
def _toy_pair(key, n=24, m=20, d=5, k=3):
  k1, k2, k3, k4 = jax.random.split(key, 4)
  fs = jax.random.normal(k1, (n, d))
  ys = jax.random.randint(k2, (n,), 0, k)
  ft = jax.random.normal(k3, (m, d)) + 0.5
  lt = jax.random.normal(k4, (m, k))
  return fs, ys, ft, lt




def _state(key, model, x, lr=1e-2):
  return wtrain.create_train_state(key, model, x, optax.adam(lr))


# ----------------------------------------------------------------------------- joint cost
def test_joint_cost_matches_brute_force():
  fs, ys, ft, lt = _toy_pair(jax.random.key(0))
  c = np.asarray(da.joint_cost(fs, ys, ft, lt, eta1=0.3, eta2=0.7))
  fs, ys, ft, lt = map(np.asarray, (fs, ys, ft, lt))
  p = np.exp(lt - lt.max(1, keepdims=True))
  p /= p.sum(1, keepdims=True)
  ref = np.empty((len(fs), len(ft)))
  for i in range(len(fs)):
    for j in range(len(ft)):
      ref[i, j] = 0.3 * np.sum((fs[i] - ft[j]) ** 2) - 0.7 * np.log(p[j, ys[i]])
  np.testing.assert_allclose(c, ref, rtol=1e-4, atol=1e-4)


def test_joint_ot_loss_is_sum_plan_times_cost_and_plan_has_no_gradient():
  fs, ys, ft, lt = _toy_pair(jax.random.key(1))
  solver = da.make_solver("deepjdot")
  out = da.joint_ot_loss(fs, ys, ft, lt, solver=solver, eta1=0.1, eta2=0.1)
  np.testing.assert_allclose(out.loss, jnp.sum(out.plan * out.cost), rtol=1e-6)
  # Gradient wrt features with the plan held fixed == sum_ij P_ij dC_ij/dft.
  g = jax.grad(lambda f: da.joint_ot_loss(fs, ys, f, lt, solver=solver, eta1=0.1,
                                          eta2=0.1).loss)(ft)
  plan = np.asarray(out.plan)
  fsn, ftn = np.asarray(fs), np.asarray(ft)
  ref = np.stack([0.1 * 2 * (plan[:, j, None] * (ftn[j] - fsn)).sum(0) for j in range(len(ftn))])
  np.testing.assert_allclose(g, ref, rtol=1e-4, atol=1e-6)


# ----------------------------------------------------------------------------- solvers
@pytest.mark.parametrize("exact_method", ["auto", "auction", "host"])
def test_deepjdot_uses_an_exact_plan_checked_against_emd_and_pot(exact_method):
  fs, ys, ft, lt = _toy_pair(jax.random.key(2), n=16, m=16)
  solver = da.make_solver("deepjdot", exact_method=exact_method)
  out = jax.jit(lambda *a: da.joint_ot_loss(*a, solver=solver, eta1=0.1, eta2=0.1))(
      fs, ys, ft, lt)
  cost = np.asarray(out.cost, np.float64)
  ref = wot.emd(out.cost)
  np.testing.assert_allclose(out.plan, ref.plan, atol=1e-6)
  u = np.full(16, 1 / 16)
  pot_plan = pot.emd(u, u, cost)
  np.testing.assert_allclose(np.sum(np.asarray(out.plan) * cost), np.sum(pot_plan * cost),
                             rtol=1e-5)
  # An exact plan between uniform n = m marginals is a permutation / n.
  np.testing.assert_allclose(np.sort(np.asarray(out.plan).ravel())[-16:], 1 / 16, atol=1e-6)


def test_jumbot_plan_matches_pot_unbalanced_entropy_convention():
  fs, ys, ft, lt = _toy_pair(jax.random.key(3))
  solver = da.make_solver("jumbot", epsilon=0.1, rho=1.0, num_iters=2000)
  out = da.joint_ot_loss(fs, ys, ft, lt, solver=solver, eta1=0.1, eta2=0.1)
  n, m = out.cost.shape
  ref = pot.unbalanced.sinkhorn_knopp_unbalanced(
      np.full(n, 1 / n), np.full(m, 1 / m), np.asarray(out.cost, np.float64), 0.1, 1.0,
      reg_type="entropy", numItermax=2000, stopThr=1e-10)
  np.testing.assert_allclose(out.plan, ref, rtol=2e-3, atol=1e-6)


def test_jumbot_kl_convention_matches_pot_kl():
  fs, ys, ft, lt = _toy_pair(jax.random.key(14))
  solver = da.make_solver("jumbot", epsilon=0.1, rho=0.5, num_iters=3000, convention="kl")
  out = da.joint_ot_loss(fs, ys, ft, lt, solver=solver, eta1=0.1, eta2=0.1)
  n, m = out.cost.shape
  ref = pot.unbalanced.sinkhorn_knopp_unbalanced(
      np.full(n, 1 / n), np.full(m, 1 / m), np.asarray(out.cost, np.float64), 0.1, 0.5,
      reg_type="kl", numItermax=3000, stopThr=1e-10)
  np.testing.assert_allclose(out.plan, ref, rtol=5e-3, atol=1e-7)


def test_entropic_deepjdot_plan_is_balanced_sinkhorn():
  fs, ys, ft, lt = _toy_pair(jax.random.key(4))
  solver = da.make_solver("entropic_deepjdot", epsilon=0.5)
  out = da.joint_ot_loss(fs, ys, ft, lt, solver=solver, eta1=0.1, eta2=0.1)
  n, m = out.cost.shape
  ref = pot.sinkhorn(np.full(n, 1 / n), np.full(m, 1 / m), np.asarray(out.cost, np.float64),
                     0.5, stopThr=1e-10, numItermax=5000)
  np.testing.assert_allclose(out.plan, ref, rtol=5e-3, atol=1e-6)


def test_unbalanced_plan_marginals_move_with_rho():
  """Small rho relaxes the marginals (mass is destroyed on the costly rows); large rho ~ balanced."""
  fs, ys, ft, lt = _toy_pair(jax.random.key(5))
  # Make two source classes very far from the target: their rows should lose mass first.
  fs = fs.at[ys == 0].add(4.0)
  n, m = len(fs), len(ft)
  a = np.full(n, 1 / n)
  far = np.asarray(ys) == 0
  devs, far_share = [], []
  for rho in (0.01, 0.1, 1.0, 100.0):
    out = da.joint_ot_loss(fs, ys, ft, lt, solver=da.make_solver(
        "jumbot", epsilon=0.1, rho=rho, num_iters=3000), eta1=0.1, eta2=0.1)
    row = np.asarray(out.plan).sum(1)
    devs.append(np.abs(row - a).sum())
    far_share.append(row[far].sum() / row.sum())
    ref = pot.unbalanced.sinkhorn_knopp_unbalanced(
        a, np.full(m, 1 / m), np.asarray(out.cost, np.float64), 0.1, rho, reg_type="entropy",
        numItermax=3000, stopThr=1e-10)
    np.testing.assert_allclose(row, ref.sum(1), rtol=5e-3, atol=1e-6)
  assert all(x > y for x, y in zip(devs, devs[1:])), devs   # marginal violation shrinks
  # The far class keeps its share (|far| / n) only when the marginal is enforced (large rho).
  assert all(x < y for x, y in zip(far_share, far_share[1:])), far_share
  assert far_share[0] < 0.01 and abs(far_share[-1] - far.mean()) < 0.05, far_share
  assert devs[-1] < 0.05


def test_plan_mass_per_class_partial_da_downweights_missing_class():
  key = jax.random.key(6)
  k1, k2 = jax.random.split(key)
  # Source: 3 classes at 3 well-separated centres; target holds classes 0 and 1 only.
  centres = jnp.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
  ys = jnp.repeat(jnp.arange(3), 10)
  fs = centres[ys] + 0.1 * jax.random.normal(k1, (30, 2))
  yt = jnp.repeat(jnp.arange(2), 15)
  ft = centres[yt] + 0.1 * jax.random.normal(k2, (30, 2))
  lt = 5.0 * jax.nn.one_hot(yt, 3)
  present = np.array([True, True, False])
  ratios = {}
  for method, kw in (("deepjdot", {}), ("jumbot", dict(epsilon=0.1, rho=0.1))):
    out = da.joint_ot_loss(fs, ys, ft, lt, solver=da.make_solver(method, **kw), eta1=1.0,
                           eta2=0.1)
    mass = da.plan_mass_per_class(out.plan, ys, 3)
    np.testing.assert_allclose(mass.sum(), out.plan.sum(), rtol=1e-5)
    ratios[method] = float(da.missing_class_mass_ratio(mass, present))
  assert ratios["deepjdot"] == pytest.approx(1.0, abs=1e-4)   # balanced: cannot drop a class
  assert ratios["jumbot"] < 0.2, ratios


# ----------------------------------------------------------------------------- steps
def _moons_batch(key, n=64):
  from sklearn.datasets import make_moons
  xs, ys = make_moons(n, noise=0.05, random_state=0)
  xt, _ = make_moons(n, noise=0.05, random_state=1)
  th = np.deg2rad(30)
  rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
  return {"xs": jnp.asarray(xs, jnp.float32), "ys": jnp.asarray(ys, jnp.int32),
          "xt": jnp.asarray(xt @ rot.T, jnp.float32)}


def test_a_few_jumbot_steps_reduce_the_ot_term():
  batch = _moons_batch(jax.random.key(0))
  model = da.DAModel(TinyNet(2))
  state = _state(jax.random.key(7), model, batch["xs"])
  step = da.make_da_step("jumbot", model.apply, num_classes=2, eta1=0.1, eta2=0.1,
                         epsilon=0.1, rho=1.0)
  ots = []
  for i in range(30):
    state, metrics = step(state, batch, jax.random.fold_in(jax.random.key(8), i))
    ots.append(float(metrics["ot"]))
  assert np.all(np.isfinite(ots))
  assert np.mean(ots[-5:]) < 0.7 * np.mean(ots[:3]), ots


@pytest.mark.parametrize("method", ["deepjdot", "entropic_deepjdot", "jumbot"])
def test_cost_and_plan_stay_on_device_in_the_jitted_step(method):
  """No host callback (pure_callback / io_callback) anywhere in the compiled OT step."""
  batch = _moons_batch(jax.random.key(0), n=16)
  model = da.DAModel(TinyNet(2))
  state = _state(jax.random.key(13), model, batch["xs"])
  # DeepJDOT: the JAX auction ('auto' picks scipy on the host on a CPU backend, by design).
  loss = da.make_da_loss(method, model.apply, epsilon=0.1, rho=1.0, exact_method="auction")
  jaxpr = str(jax.make_jaxpr(wtrain.make_step(loss))(state, batch, jax.random.key(0)))
  assert "callback" not in jaxpr


@pytest.mark.parametrize("method", ["source_only", "dann", "deepjdot", "entropic_deepjdot"])
def test_every_method_steps_and_stays_finite(method):
  batch = _moons_batch(jax.random.key(0), n=32)
  model = da.DAModel(TinyNet(2), discriminator_hidden=8 if method == "dann" else 0)
  state = _state(jax.random.key(9), model, batch["xs"])
  step = da.make_da_step(method, model.apply, num_classes=2, epsilon=0.5, rho=1.0)
  for i in range(3):
    state, metrics = step(state, dict(batch, grl_scale=0.5), jax.random.fold_in(
        jax.random.key(10), i))
  assert all(np.isfinite(float(v)) for v in metrics.values()), metrics
  assert int(state.step) == 3


def test_gradient_reversal_flips_and_scales_gradient():
  x = jnp.arange(3.0)
  g = jax.grad(lambda v: jnp.sum(da.gradient_reversal(v, 0.5) * jnp.array([1.0, 2.0, 3.0])))(x)
  np.testing.assert_allclose(g, [-0.5, -1.0, -1.5])
  np.testing.assert_allclose(da.gradient_reversal(x, 0.5), x)
  assert float(da.dann_schedule(0.0)) == 0.0 and 0.99 < float(da.dann_schedule(1.0)) <= 1.0


# ----------------------------------------------------------------------------- selection
def test_reverse_validation_and_selection():
  centres = jnp.array([[0.0, 0.0], [5.0, 5.0]])
  y = jnp.repeat(jnp.arange(2), 10)
  f = centres[y]
  good = 3.0 * jax.nn.one_hot(y, 2)
  bad = 3.0 * jax.nn.one_hot(1 - y, 2)
  assert float(da.reverse_validation_score(f, good, f, y)) == 1.0
  assert float(da.reverse_validation_score(f, bad, f, y)) == 0.0
  hist = {"source_val_acc": [0.5, 0.9, 0.9, 0.7], "reverse_val": [0.1, 0.2, 0.8, 0.3]}
  assert da.select_index(hist, "source_val") == 2
  assert da.select_index(hist, "reverse_val") == 2
  hist["step"] = [10, 20, 30, 40]
  assert da.select_index(hist, "last") == 3        # fixed training length: the last evaluation
  with pytest.raises(ValueError, match="empty"):
    da.select_index({"step": []}, "last")
  with pytest.raises(ValueError, match="valid names"):
    da.select_index(hist, "target_test")


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kw,match", [
    (dict(epsilon=0.0, rho=1.0), "epsilon"), (dict(epsilon=-1.0, rho=1.0), "epsilon"),
    (dict(epsilon=0.1, rho=0.0), "rho"), (dict(epsilon=0.1, rho=-2.0), "rho"),
])
def test_bad_epsilon_rho_raise(kw, match):
  with pytest.raises(ValueError, match=match):
    da.make_solver("jumbot", **kw)
  with pytest.raises(ValueError, match=match):
    da.make_da_step("jumbot", lambda *a, **k: None, **kw)


def test_bad_epsilon_for_entropic_deepjdot_and_unknown_method():
  with pytest.raises(ValueError, match="epsilon"):
    da.make_solver("entropic_deepjdot", epsilon=0.0)
  with pytest.raises(ValueError, match="valid names"):
    da.make_da_step("jdot", lambda *a, **k: None)
  with pytest.raises(ValueError, match="exact_method"):
    da.make_solver("deepjdot", exact_method="lp")


def test_source_and_target_with_different_feature_shapes_raise():
  batch = _moons_batch(jax.random.key(0), n=16)
  model = da.DAModel(TinyNet(2))
  state = _state(jax.random.key(11), model, batch["xs"])
  step = da.make_da_step("jumbot", model.apply, num_classes=2)
  bad = dict(batch, xt=jnp.zeros((16, 3)))
  with pytest.raises(ValueError, match="same feature shape"):
    step(state, bad, jax.random.key(0))
  with pytest.raises(ValueError, match="different widths"):
    da.joint_cost(jnp.zeros((4, 3)), jnp.zeros(4, int), jnp.zeros((5, 2)), jnp.zeros((5, 2)),
                  eta1=1.0, eta2=1.0)


def test_class_count_mismatch_raises():
  batch = _moons_batch(jax.random.key(0), n=16)
  model = da.DAModel(TinyNet(2))
  state = _state(jax.random.key(12), model, batch["xs"])
  step = da.make_da_step("deepjdot", model.apply, num_classes=2)
  with pytest.raises(ValueError, match="class count mismatch"):
    step(state, dict(batch, ys=batch["ys"].at[0].set(5)), jax.random.key(0))
  fs, ys, ft, lt = _toy_pair(jax.random.key(0), k=3)
  with pytest.raises(ValueError, match="class count mismatch"):
    da.joint_cost(fs, ys.at[0].set(3), ft, lt, eta1=1.0, eta2=1.0)
