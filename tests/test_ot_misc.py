"""IPOT, sliced Wasserstein, Sinkhorn divergence, label OT, point-cloud forms and
the WGAN-GP critic helpers."""


import jax
import jax.numpy as jnp
import numpy as np
import ot  # POT: independent reference only.
import pytest

import wassml.ot as wot
from tests.x64 import x64_mode


def test_ipot_converges_to_exact_ot():
  with x64_mode():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(9, 2)), rng.normal(size=(12, 2))
    c = ot.dist(x, y)
    c /= c.max()
    a = rng.random(9) + 0.1
    a /= a.sum()
    res = wot.ipot(c, a, None, beta=0.1, num_iters=2000)
    np.testing.assert_allclose(float(res.transport_cost), ot.emd2(a, [], c), rtol=1e-4)
    np.testing.assert_allclose(np.asarray(res.plan).sum(0), 1 / 12, atol=1e-6)
    assert bool(res.converged)


def test_sliced_wasserstein_matches_pot_projections():
  rng = np.random.default_rng(1)
  x = rng.normal(size=(20, 3)).astype(np.float32)
  y = (rng.normal(size=(20, 3)) + 1.0).astype(np.float32)
  key = jax.random.key(0)
  sw = float(wot.sliced_wasserstein(key, x, y, num_projections=30))
  # Same projections, 1-D W2 by POT.
  theta = np.asarray(jax.random.normal(key, (30, 3), jnp.float32), np.float64)
  theta /= np.linalg.norm(theta, axis=1, keepdims=True)
  ref = np.sqrt(np.mean([ot.wasserstein_1d(x @ t, y @ t, p=2) for t in theta]))
  np.testing.assert_allclose(sw, ref, rtol=1e-4)
  # Unequal sizes.
  sw2 = float(wot.sliced_wasserstein(key, x, y[:13], num_projections=30))
  ref2 = np.sqrt(np.mean([ot.wasserstein_1d(x @ t, y[:13] @ t, p=2) for t in theta]))
  np.testing.assert_allclose(sw2, ref2, rtol=1e-4)
  g = jax.grad(lambda x: wot.sliced_wasserstein(key, x, y))(jnp.asarray(x))
  assert np.all(np.isfinite(np.asarray(g)))


def test_sinkhorn_divergence():
  rng = np.random.default_rng(2)
  x = jnp.asarray(rng.normal(size=(10, 2)), jnp.float32)
  y = jnp.asarray(rng.normal(size=(12, 2)) + 2.0, jnp.float32)
  assert abs(float(wot.sinkhorn_divergence(x, x, epsilon=0.5))) < 1e-5
  s = float(wot.sinkhorn_divergence(x, y, epsilon=0.5))
  with x64_mode():
    xs, ys = np.asarray(x, np.float64), np.asarray(y, np.float64)
    ref = ot.bregman.empirical_sinkhorn_divergence(xs, ys, 0.5, stopThr=1e-12,
                                                   numIterMax=10000)
  # POT's divergence uses the linear cost <P,C> of each term (no entropy term); we
  # use the full entropic objective, so compare with that computed from POT plans.
  def objective(c, a, b):
    P = ot.sinkhorn(a, b, c, 0.5, stopThr=1e-12, numItermax=10000)
    return np.sum(P * c) + 0.5 * np.sum(P * np.log(P / np.outer(a, b)) - P + np.outer(a, b))
  a, b = np.full(10, 0.1), np.full(12, 1 / 12)
  want = (objective(ot.dist(xs, ys), a, b)
          - 0.5 * (objective(ot.dist(xs, xs), a, a) + objective(ot.dist(ys, ys), b, b)))
  np.testing.assert_allclose(s, want, rtol=1e-4)
  assert s > 0 and np.isfinite(ref)


def test_wasserstein_pointcloud():
  rng = np.random.default_rng(3)
  x, y = rng.normal(size=(7, 2)), rng.normal(size=(9, 2))
  with x64_mode():
    w2 = float(wot.wasserstein(x, y))
    w1 = float(wot.wasserstein(x, y, p=1))
    np.testing.assert_allclose(w2, np.sqrt(ot.emd2([], [], ot.dist(x, y))), rtol=1e-9)
    np.testing.assert_allclose(w1, ot.emd2([], [], ot.dist(x, y, metric="euclidean")),
                               rtol=1e-9)


def test_return_output_contract_wasserstein_and_label_ot():
  # Default: the value alone; return_output=True: (value, OTResult), the same value.
  rng = np.random.default_rng(8)
  x, y = rng.normal(size=(7, 2)), rng.normal(size=(9, 2))
  w = wot.wasserstein(x, y)
  w2, res = wot.wasserstein(x, y, return_output=True)
  assert isinstance(res, wot.OTResult) and res.plan.shape == (7, 9)
  np.testing.assert_allclose(float(w2), float(w), rtol=1e-6)
  np.testing.assert_allclose(float(res.transport_cost), float(w) ** 2, rtol=1e-5)
  K, B = 3, 4
  p = jax.nn.softmax(jnp.asarray(rng.normal(size=(B, K)), jnp.float32))
  q = jax.nn.softmax(jnp.asarray(rng.normal(size=(B, K)), jnp.float32))
  C = 1 - np.eye(K)
  for mode in ("auto", "log"):
    v = wot.label_ot(p, q, C, epsilon=0.05, mode=mode)
    v2, res = wot.label_ot(p, q, C, epsilon=0.05, mode=mode, return_output=True)
    assert v.shape == (B,) and isinstance(res, wot.OTResult)
    assert res.plan.shape == (B, K, K) and res.f.shape == (B, K) and res.objective.shape == (B,)
    np.testing.assert_allclose(np.asarray(v2), np.asarray(v), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(res.transport_cost), np.asarray(v), rtol=1e-6)
  # A traced cost takes the lax.cond branch; the output passes through it.
  v3, res3 = jax.jit(lambda c: wot.label_ot(p, q, c, epsilon=0.05, return_output=True))(
      jnp.asarray(C, jnp.float32))
  np.testing.assert_allclose(np.asarray(v3), np.asarray(v), rtol=1e-5)
  assert res3.plan.shape == (B, K, K)


@pytest.mark.parametrize("mode", ["auto", "kernel", "log"])
def test_label_ot_matches_pot_and_gradient_flows_to_q(mode):
  rng = np.random.default_rng(4)
  K = 4
  C = rng.random((K, K)) + 0.5
  C = (C + C.T) / 2
  np.fill_diagonal(C, 0.0)
  p = jax.nn.softmax(jnp.asarray(rng.normal(size=(3, K)), jnp.float32))
  q = jax.nn.softmax(jnp.asarray(rng.normal(size=(3, K)), jnp.float32))
  out = wot.label_ot(p, q, C, epsilon=0.05, num_iters=200, mode=mode)
  assert out.shape == (3,)
  for i in range(3):
    ref = ot.sinkhorn2(np.asarray(p[i], np.float64), np.asarray(q[i], np.float64), C, 0.05,
                       numItermax=200, stopThr=0.0)
    np.testing.assert_allclose(float(out[i]), ref, rtol=1e-3)
  g = jax.grad(lambda q: jnp.sum(
      wot.label_ot(jax.lax.stop_gradient(p), q, C, epsilon=0.05, mode=mode)))(q)
  assert np.all(np.isfinite(np.asarray(g))) and float(jnp.abs(g).sum()) > 0
  # Zero entries (saturated softmax) give finite gradients.
  q0 = q.at[0].set(jnp.array([1.0, 0.0, 0.0, 0.0]))
  g0 = jax.grad(lambda q: jnp.sum(wot.label_ot(p, q, C, epsilon=0.05, mode=mode)))(q0)
  assert np.all(np.isfinite(np.asarray(g0)))


def test_label_ot_kernel_and_log_domains_agree_with_traced_cost():
  # WAR's setting: 10 classes, eps 0.05, 20 unrolled iterations, a [0, 1] cost that is traced
  # (built inside jit) and batched over seeds under vmap. The kernel domain must give the log
  # domain's values and gradients (same iterates in exact arithmetic).
  rng = np.random.default_rng(7)
  K, B = 10, 16
  s = rng.random((2, K, K))
  costs = jnp.asarray(np.where(np.eye(K, dtype=bool), 0.0, 0.3 + 0.7 * (s + s.transpose(0, 2, 1)) / 2),
                      jnp.float32)
  p = jax.nn.softmax(jnp.asarray(rng.normal(size=(B, K)) * 3, jnp.float32))
  logits = jnp.asarray(rng.normal(size=(2, B, K)), jnp.float32)

  def value_and_grad(mode):
    def one(c, lg):
      f = lambda lg: jnp.sum(wot.label_ot(p, jax.nn.softmax(lg), c, epsilon=0.05, mode=mode))
      return jax.value_and_grad(f)(lg)
    return jax.jit(jax.vmap(one))(costs, logits)

  v_log, g_log = value_and_grad("log")
  for mode in ("kernel", "auto"):
    v, g = value_and_grad(mode)
    np.testing.assert_allclose(np.asarray(v), np.asarray(v_log), rtol=1e-4)
    np.testing.assert_allclose(np.asarray(g), np.asarray(g_log), rtol=1e-3, atol=1e-6)


def test_label_ot_mode_errors():
  p = np.array([[0.5, 0.5]])
  with pytest.raises(ValueError, match="mode must be one of"):
    wot.label_ot(p, p, 1 - np.eye(2), epsilon=0.05, mode="fast")
  # 10 / 0.01 = 1000 >= the float32 bound: the kernel domain would underflow.
  with pytest.raises(ValueError, match="would underflow"):
    wot.label_ot(p, p, 10 * (1 - np.eye(2)), epsilon=0.01, mode="kernel")
  # "auto" falls back to the log domain above the bound (10 / 0.1 = 100) and stays exact.
  out = wot.label_ot(np.array([[0.9, 0.1]]), np.array([[0.1, 0.9]]), 10 * (1 - np.eye(2)),
                     epsilon=0.1, num_iters=50)
  np.testing.assert_allclose(np.asarray(out), [8.0], rtol=1e-3)


@pytest.mark.parametrize("cost,match", [
    (np.ones((3, 4)), "square"),
    (np.array([[0.0, -1.0], [1.0, 0.0]]), "non-negative"),
    (np.array([[1.0, 1.0], [1.0, 0.0]]), "zero diagonal"),
    (np.array([[0.0, np.inf], [1.0, 0.0]]), "finite"),
    (np.ones((3, 3)) - np.eye(3), "K=2"),
])
def test_label_ot_bad_ground_cost(cost, match):
  p = np.array([[0.5, 0.5]])
  with pytest.raises(ValueError, match=match):
    wot.label_ot(p, p, cost, epsilon=0.05)


def test_label_ot_bad_probabilities():
  C = 1 - np.eye(2)
  with pytest.raises(ValueError, match="sum to 1"):
    wot.label_ot(np.array([[0.5, 0.6]]), np.array([[0.5, 0.5]]), C, epsilon=0.05)
  with pytest.raises(ValueError, match="same shape"):
    wot.label_ot(np.array([[0.5, 0.5]]), np.array([[0.5, 0.5], [0.5, 0.5]]), C, epsilon=0.05)


def test_gradient_penalty_linear_critic():
  # f(x) = <w, x> has gradient w everywhere: penalty = (||w|| - 1)^2 exactly.
  w = jnp.array([3.0, 4.0])
  critic = lambda x: x @ w
  rng = np.random.default_rng(5)
  real = jnp.asarray(rng.normal(size=(6, 2)), jnp.float32)
  fake = jnp.asarray(rng.normal(size=(6, 2)), jnp.float32)
  gp = wot.gradient_penalty(jax.random.key(0), critic, real, fake)
  np.testing.assert_allclose(float(gp), 16.0, rtol=1e-6)
  loss, w1 = wot.critic_loss(jax.random.key(0), critic, real, fake, gp_weight=10.0)
  want_w1 = float(jnp.mean(real @ w) - jnp.mean(fake @ w))
  np.testing.assert_allclose(float(w1), want_w1, rtol=1e-5)
  np.testing.assert_allclose(float(loss), -want_w1 + 160.0, rtol=1e-5)
  # Weighted means.
  ra = jnp.asarray(rng.random(6), jnp.float32)
  _, w1w = wot.critic_loss(jax.random.key(0), critic, real, fake, real_weights=ra)
  want = float(jnp.sum(ra * (real @ w)) / jnp.sum(ra) - jnp.mean(fake @ w))
  np.testing.assert_allclose(float(w1w), want, rtol=1e-5)


def test_gradient_penalty_nonlinear_critic_and_param_grad():
  # f(x) = 0.5 ||x||^2: grad = x~, penalty = mean (||x~|| - 1)^2 at the interpolates.
  real = jnp.array([[1.0, 0.0], [0.0, 2.0]])
  fake = jnp.array([[3.0, 0.0], [0.0, 0.0]])
  key = jax.random.key(3)
  t = jax.random.uniform(key, (2, 1))
  xt = t * real + (1 - t) * fake
  want = jnp.mean((jnp.linalg.norm(xt, axis=1) - 1.0) ** 2)
  got = wot.gradient_penalty(key, lambda x: 0.5 * jnp.sum(x ** 2, 1), real, fake)
  np.testing.assert_allclose(float(got), float(want), rtol=1e-6)
  # Differentiable in the critic parameters: for f = s <w, x>, penalty = (s ||w|| - 1)^2.
  w = jnp.array([0.6, 0.8])
  dgp = jax.grad(lambda s: wot.gradient_penalty(key, lambda x: s * (x @ w), real, fake))(2.0)
  np.testing.assert_allclose(float(dgp), 2.0 * (2.0 - 1.0), rtol=1e-5)
  with pytest.raises(ValueError, match="same shape"):
    wot.gradient_penalty(key, lambda x: x[:, 0], real, fake[:1])
