"""DeepFool: closed-form distance on affine classifiers, label flips on a small network."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wassml.active_learning import deepfool


def _linear_logits(params, x):
  w, b = params
  return w @ x.reshape(-1) + b


def _closed_form(w, b, x):
  f = w @ x + b
  k0 = int(np.argmax(f))
  dists = [abs(f[k] - f[k0]) / np.linalg.norm(w[k] - w[k0]) for k in range(len(f)) if k != k0]
  return min(dists)


@pytest.mark.parametrize("num_classes", [2, 5])
def test_deepfool_linear_matches_closed_form(num_classes):
  rng = np.random.default_rng(0)
  d = 7
  w = rng.normal(size=(num_classes, d)).astype(np.float32)
  b = rng.normal(size=num_classes).astype(np.float32)
  xs = rng.normal(size=(16, d)).astype(np.float32)
  res = deepfool.deepfool_batch(_linear_logits, (jnp.asarray(w), jnp.asarray(b)), xs, max_iters=10)
  for i, x in enumerate(xs):
    expected = _closed_form(w.astype(np.float64), b.astype(np.float64), x.astype(np.float64))
    # step_eps = 1e-4 pushes the point across: ||r|| = d + 1e-4 / ||w_l||.
    np.testing.assert_allclose(float(res.norm[i]), expected, rtol=1e-3, atol=2e-4)
  assert bool(jnp.all(res.flipped))
  assert bool(jnp.all(res.adversarial_label != res.original_label))
  # an affine model needs exactly one linearisation step
  np.testing.assert_array_equal(np.asarray(res.num_iters), 1)
  # the reported adversarial point is x + r and changes the prediction
  np.testing.assert_allclose(np.asarray(res.adversarial), xs + np.asarray(res.perturbation), atol=1e-6)
  preds = np.argmax(np.asarray(res.adversarial) @ w.T + b, axis=1)
  assert np.all(preds != np.argmax(xs @ w.T + b, axis=1))


def test_deepfool_single_and_overshoot():
  w = jnp.array([[1.0, 0.0], [-1.0, 0.0]])
  b = jnp.zeros(2)
  x = jnp.array([0.3, 2.0])
  # f0 - f1 = 2 x0: distance to boundary x0 = 0 is 0.3
  r = deepfool.deepfool(_linear_logits, (w, b), x)
  np.testing.assert_allclose(float(r.norm), 0.3, atol=1e-4)
  r2 = deepfool.deepfool(_linear_logits, (w, b), x, overshoot=0.5)
  np.testing.assert_allclose(float(r2.norm), 0.45, atol=1e-3)


def _mlp_logits(params, x):
  w1, b1, w2, b2 = params
  h = jnp.tanh(x.reshape(-1) @ w1 + b1)
  return h @ w2 + b2


def test_deepfool_flips_a_nonlinear_network():
  keys = jax.random.split(jax.random.key(0), 3)
  params = (jax.random.normal(keys[0], (6, 16)), jnp.zeros(16), jax.random.normal(keys[1], (16, 4)), jnp.zeros(4))
  xs = jax.random.normal(keys[2], (32, 2, 3))
  res = deepfool.deepfool_batch(_mlp_logits, params, xs, max_iters=10, overshoot=0.02)
  assert res.norm.shape == (32,)
  assert res.perturbation.shape == xs.shape
  assert float(jnp.mean(res.flipped)) >= 0.9
  assert bool(jnp.all(res.num_iters <= 10))
  # the reported label is the model's label at the adversarial point
  adv_pred = jax.vmap(lambda z: jnp.argmax(_mlp_logits(params, z)))(res.adversarial)
  np.testing.assert_array_equal(np.asarray(adv_pred), np.asarray(res.adversarial_label))


def test_deepfool_rejects_bad_logits():
  with pytest.raises(ValueError, match="logits"):
    deepfool.deepfool(lambda p, x: jnp.sum(x)[None], None, jnp.ones(3))
