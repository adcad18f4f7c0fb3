"""Tests for ARWGAN weights, the shared WGAN-GP steps, prediction with uncertainty and
unsupervised feature importance."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.special
import scipy.stats
import sklearn.metrics

from wassml.regularization import arwgan
from wassml.regularization import feature_importance as fi
from wassml.regularization import uncertainty as unc


# ----------------------------------------------------------------------------- ARWGAN weights
def _logits_labels(n=40, k=4, seed=0):
  rng = np.random.default_rng(seed)
  return rng.normal(size=(n, k)).astype(np.float32) * 2, rng.integers(0, k, n)


def test_margin_matches_brute_force():
  logits, y = _logits_labels()
  logp = scipy.special.log_softmax(logits, 1)
  want = [logp[i, y[i]] - max(logp[i, j] for j in range(4) if j != y[i]) for i in range(40)]
  np.testing.assert_allclose(arwgan.classification_margin(logits, y), want, rtol=1e-5, atol=1e-5)


def test_hard_soft_uniform_weights():
  logits, y = _logits_labels()
  wrong = logits.argmax(1) != y
  hard = np.asarray(arwgan.misclassification_weights(logits, y, kind="hard"))
  np.testing.assert_allclose(hard.sum(), 1, rtol=1e-6)
  np.testing.assert_allclose(hard[wrong], 1 / wrong.sum(), rtol=1e-6)
  assert np.all(hard[~wrong] == 0)
  soft = np.asarray(arwgan.misclassification_weights(logits, y, kind="soft", temperature=0.5))
  m = np.asarray(arwgan.classification_margin(logits, y))
  np.testing.assert_allclose(soft, scipy.special.softmax(-m / 0.5), rtol=1e-5)
  assert soft[wrong].mean() > soft[~wrong].mean()
  uni = np.asarray(arwgan.misclassification_weights(logits, y, kind="uniform"))
  np.testing.assert_allclose(uni, 1 / 40)
  assert arwgan.effective_sample_size(uni) == pytest.approx(40)
  assert arwgan.effective_sample_size(hard) == pytest.approx(wrong.sum())


def test_weights_bad_input():
  logits, y = _logits_labels()
  with pytest.raises(ValueError, match="valid: uniform, hard, soft"):
    arwgan.misclassification_weights(logits, y, kind="sharp")
  with pytest.raises(ValueError, match="misclassifies none"):
    arwgan.misclassification_weights(logits, logits.argmax(1), kind="hard")
  with pytest.raises(ValueError, match="temperature"):
    arwgan.misclassification_weights(logits, y, kind="soft", temperature=0.0)
  with pytest.raises(ValueError, match=r"\[N, K\]"):
    arwgan.misclassification_weights(logits, y[:3])


def test_weighted_batches_follow_weights():
  w = np.array([0.5, 0.3, 0.2, 0.0])
  idx = np.asarray(arwgan.weighted_batches(jax.random.key(0), w, batch_size=100, num_batches=50))
  assert idx.shape == (50, 100)
  counts = np.bincount(idx.ravel(), minlength=4)
  assert counts[3] == 0
  chi2 = ((counts[:3] - 5000 * w[:3]) ** 2 / (5000 * w[:3])).sum()
  assert chi2 < scipy.stats.chi2.ppf(0.999, df=2)
  assert float(arwgan.misclassified_fraction(np.eye(3)[[0, 1, 2, 0]], 0)) == 0.5


# ----------------------------------------------------------------------------- WGAN-GP steps
def test_wgan_step_moves_generator_to_data():
  import flax.linen as nn
  from wassml.generative import wgan

  class Gen(nn.Module):
    @nn.compact
    def __call__(self, z):
      return nn.Dense(1)(z)

  from wassml import nn as wnn
  state = wgan.create_gan_state(
      jax.random.key(0), Gen(), wnn.Critic(hidden=(16,)), latent_dim=1,
      example_x=jnp.zeros((1, 1)), tx_generator=optax.adam(1e-2, 0.5, 0.9),
      tx_critic=optax.adam(1e-2, 0.5, 0.9))
  step = jax.jit(wgan.make_wgan_step(latent_dim=1, n_critic=5))

  def run(state, key):
    def body(st, i):
      k = jax.random.fold_in(key, i)
      real = 3.0 + 0.5 * jax.random.normal(jax.random.fold_in(k, 0), (5, 64, 1))
      return step(st, {"x": real}, jax.random.fold_in(k, 1))
    return jax.lax.scan(body, state, jnp.arange(300))

  start = float(wgan.generate(jax.random.key(1), state, 2000, 1).mean())
  state, metrics = jax.jit(run)(state, jax.random.key(2))
  end = wgan.generate(jax.random.key(1), state, 2000, 1)
  assert abs(start - 3.0) > 2.0
  assert abs(float(end.mean()) - 3.0) < 0.75, float(end.mean())  # from ~3 away
  assert np.all(np.isfinite(np.asarray(metrics["w1"])))
  with pytest.raises(ValueError, match="n_critic"):
    step(state, {"x": jnp.zeros((2, 4, 1))}, jax.random.key(0))


# ----------------------------------------------------------------------------- uncertainty
def test_two_head_loss_matches_formula():
  rng = np.random.default_rng(0)
  a = rng.normal(size=(5, 3)).astype(np.float32)
  b = rng.normal(size=(5, 3)).astype(np.float32)
  y = np.array([0, 1, 2, 1, 0])
  key = jax.random.key(3)
  loss = float(unc.two_head_loss(key, a, b, y, num_t=4))
  t = np.asarray(jax.random.uniform(key, (5, 4), minval=1e-6, maxval=1 - 1e-6))
  pa, pb = scipy.special.softmax(a, 1), scipy.special.softmax(b, 1)
  mix = t * pa[np.arange(5), y][:, None] + (1 - t) * pb[np.arange(5), y][:, None]
  assert loss == pytest.approx(-np.log(mix).mean(), rel=1e-5)
  # Equal heads: the loss is the plain cross-entropy whatever t is.
  same = float(unc.two_head_loss(key, a, a, y, num_t=4))
  assert same == pytest.approx(-np.log(pa[np.arange(5), y]).mean(), rel=1e-5)


def test_scores_and_auroc():
  rng = np.random.default_rng(1)
  a = rng.normal(size=(6, 4))
  np.testing.assert_allclose(unc.head_spread(a, a), 0, atol=1e-7)
  b = rng.normal(size=(6, 4))
  pa, pb = scipy.special.softmax(a, 1), scipy.special.softmax(b, 1)
  np.testing.assert_allclose(unc.head_spread(a, b), 0.5 * np.abs(pa - pb).sum(1), rtol=1e-5)
  np.testing.assert_allclose(unc.entropy(pa), scipy.stats.entropy(pa, axis=1), rtol=1e-5)
  s_in = np.round(rng.normal(size=300), 1)
  s_out = np.round(rng.normal(0.7, 1, size=200), 1)  # rounding makes ties
  want = sklearn.metrics.roc_auc_score(np.r_[np.zeros(300), np.ones(200)], np.r_[s_in, s_out])
  assert unc.auroc(s_in, s_out) == pytest.approx(want, abs=1e-12)
  with pytest.raises(ValueError, match="at least one"):
    unc.auroc([], [1.0])


def test_two_head_classifier_and_mc_dropout_shapes():
  from wassml import nn as wnn
  model = unc.TwoHeadClassifier(trunk=wnn.MLP(hidden=(8,), num_outputs=None), num_classes=3)
  x = jnp.ones((5, 4))
  v = model.init(jax.random.key(0), x)
  la, lb = model.apply(v, x)
  assert la.shape == lb.shape == (5, 3)
  assert not np.allclose(la, lb)
  drop = wnn.MLP(hidden=(8,), num_outputs=3, dropout_rate=0.5)
  vd = drop.init(jax.random.key(0), x)
  p = unc.mc_dropout_probs(jax.random.key(1), drop.apply, vd, x, num_samples=7)
  assert p.shape == (7, 5, 3)
  np.testing.assert_allclose(p.sum(-1), 1, rtol=1e-5)


# ----------------------------------------------------------------------------- feature importance
def test_feature_importance_linear_metric_closed_form():
  """For phi(x) = A x, W_{d_phi}(p, p + tF) = t ||A F|| exactly (a translation in a norm), so
  the most important direction is A's top right-singular vector."""
  rng = np.random.default_rng(0)
  a = rng.normal(size=(3, 6)).astype(np.float32)
  a[:, 0] *= 4.0  # feature 0 dominates
  phi = lambda x: x @ jnp.asarray(a).T
  x = jnp.asarray(rng.normal(size=(48, 6)).astype(np.float32))
  _, s, vt = np.linalg.svd(a)
  f = jnp.asarray(rng.normal(size=6).astype(np.float32))
  f = f / jnp.linalg.norm(f)
  val = float(fi.directional_derivative(phi, x, f, t=0.05))
  assert val == pytest.approx(float(np.linalg.norm(a @ np.asarray(f))), rel=1e-3)
  np.testing.assert_allclose(abs(np.dot(fi.first_order_direction(phi, x), vt[0])), 1, atol=1e-4)
  best, hist = fi.importance_direction(jax.random.key(0), phi, x, t=0.05, num_steps=40,
                                       learning_rate=0.2, batch_size=32, init="random")
  assert abs(float(np.dot(best, vt[0]))) > 0.98
  assert hist[-1] == pytest.approx(s[0], rel=1e-2)
  assert hist[-1] > hist[0]
  assert fi.precision_at_k(np.abs(best), [0], 1) == 1.0


def test_precision_at_k():
  assert fi.precision_at_k([0.1, 0.9, 0.5, 0.7], [1, 2], 2) == 0.5
  assert fi.precision_at_k([0.1, 0.9, 0.5, 0.7], [1, 3], 2) == 1.0
  with pytest.raises(ValueError, match="k must"):
    fi.precision_at_k([1.0, 2.0], [0], 3)
