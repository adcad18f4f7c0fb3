"""Tests for WAR / VAT: ground costs, divergences, the adversarial direction, losses."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from wassml import regularization as reg
from wassml.utils import checks
from wassml.utils import linalg


# ----------------------------------------------------------------------------- ground costs
def test_uniform_ground_cost():
  c = np.asarray(reg.uniform_ground_cost(4))
  np.testing.assert_array_equal(c, 1 - np.eye(4))


@pytest.mark.parametrize("bad, match", [
    (np.ones((3, 4)), "square"),
    (np.ones((3,)), "dimension"),
    (np.array([[0.0, -1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]]), "non-negative"),
    (np.ones((3, 3)), "zero diagonal"),
    (np.where(np.eye(3) > 0, 0, np.inf), "finite"),
])
def test_ground_cost_bad_input(bad, match):
  with pytest.raises(ValueError, match=match):
    checks.check_ground_cost(bad)


def test_ground_cost_wrong_num_classes():
  with pytest.raises(ValueError, match="K=4 classes"):
    checks.check_ground_cost(1 - np.eye(3), num_classes=4)
  with pytest.raises(ValueError, match="zero diagonal"):
    reg.make_divergence("war", cost=np.ones((3, 3)))
  with pytest.raises(ValueError, match="valid: cce, vat, war"):
    reg.make_divergence("mixup")


def test_embedding_cost_close_classes_cost_more():
  # Classes 0 and 1 are near-synonyms, class 2 is far from both.
  e = np.array([[1.0, 0.0, 0.0], [0.95, 0.1, 0.0], [0.0, 0.0, 1.0]])
  for metric in ("cosine", "euclidean"):
    c = np.asarray(reg.embedding_ground_cost(e, floor=0.1, metric=metric))
    np.testing.assert_allclose(np.diag(c), 0)
    np.testing.assert_allclose(c, c.T, atol=1e-6)
    assert c[0, 1] == pytest.approx(1.0)
    assert c[0, 2] < 0.5 and c[1, 2] < 0.5
    assert c.min(initial=1, where=~np.eye(3, dtype=bool)) == pytest.approx(0.1)


def test_confusion_cost_from_warmup_model():
  y = np.array([0] * 10 + [1] * 10 + [2] * 10)
  pred = y.copy()
  pred[:4] = 1   # 0 -> 1 often confused
  pred[10:13] = 0  # 1 -> 0
  pred[20] = 0   # 2 -> 0 once
  m = reg.confusion_matrix(y, pred, 3)
  assert m.sum() == 30 and m[0, 1] == 4 and m[1, 0] == 3
  c = np.asarray(reg.confusion_ground_cost(m, floor=0.2))
  assert c[0, 1] == pytest.approx(1.0) and c[1, 0] == pytest.approx(1.0)
  assert c[1, 2] == pytest.approx(0.2)  # never confused
  assert c[1, 2] < c[0, 2] < c[0, 1]
  with pytest.raises(ValueError, match="empty rows"):
    reg.confusion_ground_cost(np.array([[1, 0], [0, 0]]))


# ----------------------------------------------------------------------------- divergences
def test_kl_matches_scipy():
  rng = np.random.default_rng(0)
  p = rng.dirichlet(np.ones(5), size=7)
  p[0, 2] = 0.0
  p[0] /= p[0].sum()
  logits = rng.normal(size=(7, 5))
  q = scipy.special.softmax(logits, axis=1)
  want = np.array([scipy.stats.entropy(p[i], q[i]) for i in range(7)])
  np.testing.assert_allclose(reg.kl_divergence(p, logits), want, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- adversarial dir.
def _linear_model(key, d, k):
  kw, kb = jax.random.split(key)
  w = jax.random.normal(kw, (d, k))
  b = jax.random.normal(kb, (k,))
  return w, b, lambda x: x @ w + b


def test_vat_direction_is_top_hessian_eigenvector():
  """Power iteration on KL converges to the top eigenvector of H = W (diag p - p p^T) W^T."""
  d, k = 6, 4
  w, b, f = _linear_model(jax.random.key(0), d, k)
  x = jax.random.normal(jax.random.key(1), (3, d))
  p = jax.nn.softmax(f(x))
  r = reg.adversarial_direction(jax.random.key(2), f, x, p, reg.kl_divergence,
                                xi=1e-3, num_iters=30, radius=2.0)
  np.testing.assert_allclose(np.linalg.norm(np.asarray(r), axis=1), 2.0, rtol=1e-5)
  wn = np.asarray(w, np.float64)
  for i in range(3):
    pi = np.asarray(p[i], np.float64)
    h = wn @ (np.diag(pi) - np.outer(pi, pi)) @ wn.T
    evals, evecs = np.linalg.eigh(h)
    top = evecs[:, -1]
    cos = abs(np.dot(np.asarray(r[i]) / 2.0, top))
    assert cos > 0.99, (i, cos, evals)


def _mlp(key, d, k, h=16):
  k1, k2 = jax.random.split(key)
  w1 = jax.random.normal(k1, (d, h)) / np.sqrt(d)
  w2 = jax.random.normal(k2, (h, k)) * 2 / np.sqrt(h)
  return lambda x: jnp.tanh(x @ w1) @ w2


def _check_increases(div, num=64, d=10, k=5, radius=0.5):
  f = _mlp(jax.random.key(3), d, k)
  x = jax.random.normal(jax.random.key(4), (num, d))
  p = jax.nn.softmax(f(x))
  r_adv = reg.adversarial_direction(jax.random.key(5), f, x, p, div, xi=1e-3, num_iters=1,
                                    radius=radius)
  r_rand = radius * reg.l2_normalize(jax.random.normal(jax.random.key(6), x.shape))
  d_adv = np.asarray(div(p, f(x + r_adv)))
  d_rand = np.asarray(div(p, f(x + r_rand)))
  d_zero = np.asarray(div(p, f(x)))
  assert np.all(d_adv > d_zero - 1e-6)
  # The adversarial direction beats a random one of the same norm for (almost) every example.
  assert np.mean(d_adv > d_rand) > 0.9, np.mean(d_adv > d_rand)
  assert d_adv.mean() > 2 * d_rand.mean()


def test_adversarial_direction_increases_kl():
  _check_increases(reg.kl_divergence)


def test_adversarial_direction_bad_input():
  f = lambda x: x
  with pytest.raises(ValueError, match="num_iters"):
    reg.adversarial_direction(jax.random.key(0), f, jnp.ones((2, 3)), jnp.ones((2, 3)) / 3,
                              reg.kl_divergence, num_iters=0)
  with pytest.raises(ValueError, match="radius"):
    reg.adversarial_direction(jax.random.key(0), f, jnp.ones((2, 3)), jnp.ones((2, 3)) / 3,
                              reg.kl_divergence, radius=0.0)


# ----------------------------------------------------------------------------- losses
def test_cce_matches_optax():
  import optax
  logits = jax.random.normal(jax.random.key(0), (8, 5))
  y = jnp.arange(8) % 5
  np.testing.assert_allclose(
      reg.cross_entropy(logits, y),
      optax.softmax_cross_entropy_with_integer_labels(logits, y), rtol=1e-6)
  loss, m = reg.regularized_loss(jax.random.key(1), lambda x: x, logits, y, divergence=None,
                                 beta=10.0)
  assert float(m["reg"]) == 0.0
  np.testing.assert_allclose(loss, reg.cross_entropy(logits, y).mean(), rtol=1e-6)


def test_vat_loss_gradient_flows_through_perturbed_branch_only():
  w, b, _ = _linear_model(jax.random.key(0), 4, 3)
  x = jax.random.normal(jax.random.key(1), (5, 4))
  y = jnp.zeros(5, jnp.int32)

  def loss(params, beta):
    f = lambda z: z @ params[0] + params[1]
    return reg.regularized_loss(jax.random.key(2), f, x, y, divergence=reg.kl_divergence,
                                beta=beta, xi=1e-3, radius=0.3)[0]

  g0 = jax.grad(loss)((w, b), 0.0)
  g1 = jax.grad(loss)((w, b), 1.0)
  assert np.all(np.isfinite(np.asarray(g1[0])))
  assert not np.allclose(g0[0], g1[0])


def test_beta_schedule():
  f = functools.partial(reg.beta_schedule, beta=10.0, warmup_steps=100)
  assert float(f(0)) == 0.0 and float(f(99)) == 0.0 and float(f(100)) == 10.0
  assert float(f(50, kind="linear")) == pytest.approx(5.0)
  assert 0 < float(f(50, kind="sigmoid")) < 5.0
  assert float(f(500, kind="sigmoid")) == pytest.approx(10.0)
  assert float(reg.beta_schedule(0, beta=3.0, warmup_steps=0)) == 3.0
  with pytest.raises(ValueError, match="valid"):
    f(0, kind="cosine")


def _confusion_cost_numpy(m, floor):
  # The float64 numpy formula: rates, symmetrised, rescaled over the off-diagonal to [0, 1].
  r = m / m.sum(1, keepdims=True)
  s = (r + r.T) / 2
  off = ~np.eye(len(m), dtype=bool)
  s = (s - s[off].min()) / (s[off].max() - s[off].min())
  return np.where(off, floor + (1 - floor) * s, 0.0)


def test_confusion_cost_is_traceable_and_matches_numpy_and_soft_confusion():
  rng = np.random.default_rng(0)
  m = rng.integers(1, 20, size=(5, 5)).astype(float)
  want = _confusion_cost_numpy(m, 0.3)
  eager = reg.confusion_ground_cost(m, floor=0.3)
  np.testing.assert_allclose(eager, want, atol=1e-6)
  # The same function under jit and vmap (the eager checks are skipped for tracers).
  jitted = jax.jit(lambda c: reg.confusion_ground_cost(c, floor=0.3))(jnp.asarray(m))
  np.testing.assert_allclose(jitted, eager, atol=1e-6)
  batched = jax.vmap(lambda c: reg.confusion_ground_cost(c, floor=0.3))(
      jnp.stack([jnp.asarray(m), jnp.asarray(3 * m)]))
  np.testing.assert_allclose(batched[0], eager, atol=1e-6)
  np.testing.assert_allclose(batched[1], eager, atol=1e-6)  # rates: scale-free counts
  with pytest.raises(ValueError, match="floor"):
    reg.confusion_ground_cost(m, floor=1.5)
  with pytest.raises(ValueError, match="finite non-negative"):
    reg.confusion_ground_cost(-m)
  with pytest.raises(ValueError, match="square"):
    reg.confusion_ground_cost(m[:3])
  probs = rng.dirichlet(np.ones(4), size=30)
  want = sum(np.outer(p, p) for p in probs)
  np.testing.assert_allclose(reg.ground_cost.soft_confusion(probs), want, rtol=1e-5)


# ----------------------------------------------------------------------------- WAR vs VAT
# The precise relation tested: with the uniform (0/1) ground cost C = 1 - I,
#  (i)  exact label OT is the total variation, OT_C(p, q) = TV(p, q) = (1/2)||p - q||_1, and the
#       entropic OT_C^eps used by WAR tends to it as eps -> 0 (checked against POT's exact
#       solver and the closed form), so by Pinsker OT_C^eps(p, q) <~ sqrt(KL(p||q) / 2): WAR and
#       VAT vanish together and penalise the same perturbations to first order;
#  (ii) for two classes both divergences depend on the prediction only through q_1(x + r), so
#       the power iteration returns the same direction for WAR and VAT: for a linear model
#       it is +-(w_1 - w_0) / ||w_1 - w_0|| (closed form), for any eps and xi.
# For K > 2 and a non-uniform C the two differ -- that is WAR's point.
def test_uniform_cost_small_eps_label_ot_is_total_variation():
  import ot as pot
  from wassml import ot
  rng = np.random.default_rng(1)
  p = rng.dirichlet(np.ones(4), size=6)
  q = rng.dirichlet(np.ones(4), size=6)
  c = np.asarray(reg.uniform_ground_cost(4), np.float64)
  tv = 0.5 * np.abs(p - q).sum(1)
  exact = np.array([pot.emd2(p[i], q[i], c) for i in range(6)])
  np.testing.assert_allclose(exact, tv, atol=1e-9)
  war = np.asarray(ot.label_ot(p, q, c, epsilon=0.005, num_iters=2000))
  np.testing.assert_allclose(war, tv, atol=0.01)
  # Larger eps blurs it (the plan spreads off the diagonal), so the relation needs small eps.
  blurred = np.asarray(ot.label_ot(p, q, c, epsilon=0.5, num_iters=2000))
  assert np.max(np.abs(blurred - tv)) > 0.05
  kl = np.asarray(reg.kl_divergence(p, np.log(q)))
  assert np.all(war <= np.sqrt(kl / 2) + 0.01)  # Pinsker


def test_war_direction_equals_vat_direction_for_two_classes():
  d = 5
  w, b, f = _linear_model(jax.random.key(7), d, 2)
  x = jax.random.normal(jax.random.key(8), (8, d))
  p = jax.nn.softmax(f(x))
  # Near q = p the entropic plan of a tiny eps sits on the diagonal (exp(-C/eps) underflows in
  # float32) and its gradient vanishes, so the power iteration starts a finite xi away.
  war_div = reg.label_ot_divergence(reg.uniform_ground_cost(2), epsilon=0.05, num_iters=200)
  r_war = reg.adversarial_direction(jax.random.key(9), f, x, p, war_div, xi=0.5, radius=1.0)
  r_vat = reg.adversarial_direction(jax.random.key(9), f, x, p, reg.kl_divergence, xi=1e-3,
                                    radius=1.0)
  u = np.array(w[:, 1] - w[:, 0])
  u /= np.linalg.norm(u)
  np.testing.assert_allclose(np.abs(np.asarray(r_vat) @ u), 1.0, atol=1e-3)
  np.testing.assert_allclose(np.abs(np.asarray(r_war) @ u), 1.0, atol=1e-3)
  np.testing.assert_allclose(np.abs(np.sum(np.asarray(r_war) * np.asarray(r_vat), 1)), 1.0,
                             atol=1e-3)


def test_adversarial_direction_increases_label_ot():
  cost = reg.embedding_ground_cost(np.random.default_rng(0).normal(size=(5, 3)))
  _check_increases(reg.label_ot_divergence(cost, epsilon=0.05, num_iters=20))


def test_war_divergence_bad_settings():
  with pytest.raises(ValueError, match="epsilon"):
    reg.label_ot_divergence(reg.uniform_ground_cost(3), epsilon=0.0)
  with pytest.raises(ValueError, match="num_iters"):
    reg.label_ot_divergence(reg.uniform_ground_cost(3), num_iters=0)


# ----------------------------------------------------------------------------- label noise
@pytest.mark.parametrize("kind", ["symmetric", "pairflip"])
@pytest.mark.parametrize("rate", [0.2, 0.4])
def test_injected_noise_rate(kind, rate):
  from wassml import data
  y = np.repeat(np.arange(10), 2000)
  yn, realised = data.add_label_noise(jax.random.key(0), y, rate=rate, kind=kind, num_classes=10)
  flipped = yn != y
  assert realised == pytest.approx(flipped.mean())
  # Binomial(20000, rate): 5 standard deviations.
  assert abs(flipped.mean() - rate) < 5 * np.sqrt(rate * (1 - rate) / len(y))
  if kind == "pairflip":
    np.testing.assert_array_equal(yn[flipped], (y[flipped] + 1) % 10)
  else:
    counts = np.bincount(((yn - y) % 10)[flipped], minlength=10)
    assert counts[0] == 0  # a corrupted label is always another class...
    expected = flipped.sum() / 9  # ... drawn uniformly among the 9 others (chi-square check).
    chi2 = ((counts[1:] - expected) ** 2 / expected).sum()
    assert chi2 < scipy.stats.chi2.ppf(0.999, df=8)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_noise_rate_outside_unit_interval(rate):
  from wassml import data
  with pytest.raises(ValueError, match=r"\[0, 1\)"):
    data.add_label_noise(jax.random.key(0), np.zeros(5, int), rate=rate, num_classes=3)


# ----------------------------------------------------------------------------- float32 and xi
def _pixel_mlp_setup():
  """A random tanh MLP on 784 'pixels' in [0.5, 1] (float32), its softmax and a random start."""
  k1, k2, k3, k4 = jax.random.split(jax.random.key(11), 4)
  w1 = jax.random.normal(k1, (784, 32)) / np.sqrt(784) * 3
  w2 = jax.random.normal(k2, (32, 10)) * 2 / np.sqrt(32)
  f = lambda x: jnp.tanh(x @ w1) @ w2
  x = jax.random.uniform(k3, (32, 784), minval=0.5, maxval=1.0)
  return f, x, jax.nn.softmax(f(x)), k4


@pytest.mark.parametrize("xi, aligned", [(1e-6, False), (1e-2, True)])
def test_vat_power_step_float32_needs_xi_above_rounding(xi, aligned):
  """One power step must return normalize(H d) (H: Hessian of KL at r = 0, d the random start).

  In float32, ``x + 1e-6 d`` with ``||d|| = 1`` over 784 inputs near 1 rounds to ``x`` (a per-pixel
  step ~4e-8 is below the float32 spacing ~6e-8), so the finite difference returns rounding noise:
  the reference VAT code's xi = 1e-6 does not carry over to [0, 1] pixels in float32. The
  experiment uses xi = 1e-2 (``experiments/noisy_labels/configs/default.py``). The reference
  ``H d`` is exact (forward-over-reverse, no finite difference). Everything runs at full float32
  precision: on a GPU/TPU the direction's passes do (``precision="auto"``), and its target ``p``
  must too (:func:`wassml.regularization.adversarial_regularizer` recomputes it so).
  """
  with linalg.full_precision():
    _check_power_step(xi, aligned)


def _check_power_step(xi, aligned):
  f, x, p, key = _pixel_mlp_setup()
  d0 = reg.l2_normalize(jax.random.normal(key, x.shape, dtype=x.dtype))
  obj = lambda r: jnp.sum(reg.kl_divergence(p, f(x + r)))
  hd = jax.jvp(jax.grad(obj), (jnp.zeros_like(x),), (d0,))[1]
  ref = np.asarray(reg.l2_normalize(hd))
  r = np.asarray(reg.adversarial_direction(key, f, x, p, reg.kl_divergence, xi=xi, num_iters=1,
                                           radius=1.0))
  cos = np.sum(r * ref, axis=1)
  if aligned:
    assert np.all(cos > 0.95), cos
  else:
    assert np.mean(cos) < 0.5, cos


def test_debiased_label_ot_is_zero_and_stationary_at_q_equals_p():
  """The debiased WAR divergence vanishes at q = p and is quadratic around it; the biased
  ``<P_eps, C>`` is positive at q = p with a non-zero gradient (first order)."""
  rng = np.random.default_rng(3)
  cost = reg.embedding_ground_cost(rng.normal(size=(5, 3)), floor=0.1)
  p = jnp.asarray(rng.dirichlet(3 * np.ones(5), size=6), jnp.float32)
  logits = jnp.log(p)
  v = jnp.asarray(rng.normal(size=(6, 5)), jnp.float32)
  # A well-conditioned eps (converged Sinkhorn): the gradient at q = p vanishes.
  deb = reg.label_ot_divergence(cost, epsilon=0.5, num_iters=200, debiased=True)
  biased = reg.label_ot_divergence(cost, epsilon=0.5, num_iters=200)
  np.testing.assert_allclose(np.asarray(deb(p, logits)), 0.0, atol=1e-5)
  g_deb = jax.grad(lambda z: jnp.sum(deb(p, z)))(logits)
  g_biased = jax.grad(lambda z: jnp.sum(biased(p, z)))(logits)
  assert float(jnp.max(jnp.abs(g_deb))) < 1e-4, g_deb
  assert float(jnp.max(jnp.abs(g_biased))) > 1e-2, g_biased
  assert float(jnp.min(biased(p, logits))) > 1e-2
  # WAR's eps = 0.05, 20 iterations: still zero at p and quadratic in the step around it
  # (S(2t) ~ 4 S(t)); positive away from p.
  deb = reg.label_ot_divergence(cost, epsilon=0.05, num_iters=20, debiased=True)
  np.testing.assert_allclose(np.asarray(deb(p, logits)), 0.0, atol=1e-5)
  s1, s2 = np.asarray(deb(p, logits + 0.02 * v)), np.asarray(deb(p, logits + 0.04 * v))
  assert np.all((s2 / s1 > 3.0) & (s2 / s1 < 6.0)), s2 / s1  # linear would give 2
  assert np.all(np.asarray(deb(p, jnp.asarray(rng.normal(size=(6, 5)), jnp.float32))) > 0)


@pytest.mark.parametrize("debiased", [False, True])
def test_label_ot_gradient_is_finite_when_the_softmax_underflows(debiased):
  """Confident logits make float32 softmax entries exactly 0; WAR's divergence and its gradient
  must stay finite there (the debiased one gave NaN gradients, xlogy's 0/0, which killed a
  training run of tune_v3's stage 7 at epoch 57 with no error)."""
  cost = reg.uniform_ground_cost(4)
  div = reg.label_ot_divergence(cost, epsilon=0.2, num_iters=20, debiased=debiased,
                                mode="kernel")
  p = jax.nn.softmax(jnp.array([[30.0, 0.0, -90.0, 0.0], [0.0, 200.0, 0.0, 0.0]]))
  logits = jnp.array([[30.0, 1.0, -95.0, 0.0], [0.0, 190.0, 3.0, 0.0]])
  assert float(jnp.min(jax.nn.softmax(logits))) == 0.0  # the case under test: exact zeros
  val, grad = jax.value_and_grad(lambda z: jnp.sum(div(p, z)))(logits)
  assert bool(jnp.isfinite(val)) and bool(jnp.all(jnp.isfinite(grad))), (val, grad)


def test_adversarial_direction_increases_debiased_label_ot():
  cost = reg.embedding_ground_cost(np.random.default_rng(0).normal(size=(5, 3)))
  _check_increases(reg.label_ot_divergence(cost, epsilon=0.05, num_iters=20, debiased=True))
