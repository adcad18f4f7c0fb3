"""Tests for wassml.embedding.dwe: loss terms, training on a tiny set, embedding operations."""

import numpy as np
import optax
import pytest
import scipy.stats

import jax
import jax.numpy as jnp

from wassml import train as wtrain
from wassml.embedding import dwe, operations as ops, pairs


def _hists(seed, n, h=8, w=8):
  rng = np.random.default_rng(seed)
  x = rng.random((n, h, w)) * (rng.random((n, h, w)) < 0.5) + 1e-3
  return np.asarray(dwe.as_model_input(x.astype(np.float32)))


def test_kl_matches_scipy_and_sparsity_is_l_half():
  x, r = _hists(0, 2)
  # scipy's entropy(p, q) = sum p log(p / q); no zeros here, so the 1e-7 clip is inactive
  np.testing.assert_allclose(dwe.kl_reconstruction(x, r), scipy.stats.entropy(x.ravel(), r.ravel()),
                             rtol=1e-4)
  np.testing.assert_allclose(dwe.kl_reconstruction(x, x), 0.0, atol=1e-6)
  np.testing.assert_allclose(dwe.sparsity_penalty(x), np.sqrt(x + 1e-7).sum(), rtol=1e-5)
  # an empty pixel in the data gives a finite KL (reference-code clipping)
  x0 = np.zeros((4,), np.float32)
  x0[0] = 1.0
  assert np.isfinite(dwe.kl_reconstruction(x0, np.full((4,), 0.25, np.float32)))


def test_dwe_loss_combines_terms_with_reference_weights():
  x1, x2, r1, r2 = _hists(1, 3), _hists(2, 3), _hists(3, 3), _hists(4, 3)
  pred, target = np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 2.0])
  loss, m = dwe.dwe_loss(pred, target, x1, x2, r1, r2)
  kl = np.mean([scipy.stats.entropy(a.ravel(), b.ravel()) for a, b in zip(x1, r1)]) + np.mean(
      [scipy.stats.entropy(a.ravel(), b.ravel()) for a, b in zip(x2, r2)])
  sp = np.mean(np.sqrt(r1 + 1e-7).sum((1, 2, 3))) + np.mean(np.sqrt(r2 + 1e-7).sum((1, 2, 3)))
  mse = np.mean((pred - target) ** 2)
  np.testing.assert_allclose(m["mse"], mse, rtol=1e-5)
  np.testing.assert_allclose(m["kl"], kl, rtol=1e-4)
  np.testing.assert_allclose(loss, mse + 10.0 * kl + 1e-3 * sp, rtol=1e-4)


def test_regression_scores_match_numpy():
  rng = np.random.default_rng(0)
  y = rng.random(50) * 10
  p = y + rng.normal(size=50) * 0.3
  s = dwe.regression_scores(p, y)
  np.testing.assert_allclose(s["mse"], np.mean((p - y) ** 2))
  np.testing.assert_allclose(s["relative_mse"], np.mean((p - y) ** 2) / np.mean(y ** 2))
  np.testing.assert_allclose(s["correlation"], scipy.stats.pearsonr(p, y)[0])


@pytest.fixture(scope="module")
def tiny_run():
  """A DWE trained for a few steps on 64 exact pairs of 8x8 digits."""
  from sklearn.datasets import load_digits
  imgs = load_digits().images[:40].astype(np.float32)
  x = np.asarray(dwe.as_model_input(imgs))
  key = jax.random.key(0)
  i1, i2 = pairs.sample_pair_indices(key, len(x), 64)
  w2 = pairs.pair_targets(imgs[i1], imgs[i2], batch_size=64)
  model = dwe.DWE(image_shape=(8, 8), embedding_dim=50)
  state = wtrain.create_train_state(jax.random.key(1), model, x[:2], optax.adam(3e-3), x2=x[:2])
  step = dwe.make_train_step(model)
  batch = {"x1": x[i1], "x2": x[i2], "w2": w2}
  losses = []
  for t in range(60):
    state, metrics = step(state, batch, jax.random.fold_in(key, t))
    losses.append({k: float(v) for k, v in metrics.items()})
  return model, state, x, losses


def test_loss_decreases_on_a_tiny_set(tiny_run):
  _, _, _, losses = tiny_run
  first, last = losses[0], losses[-1]
  assert np.isfinite([m["loss"] for m in losses]).all()
  assert last["loss"] < 0.5 * first["loss"]
  assert last["mse"] < 0.5 * first["mse"]
  assert last["kl"] < first["kl"]


def test_barycenter_of_one_image_is_its_reconstruction(tiny_run):
  model, state, x, _ = tiny_run
  emb = dwe.embedder(model, state.params)
  recon = emb.decode(emb.encode(x[3:4]))[0]
  bary = ops.barycenter(emb.encode, emb.decode, x[3:4])
  np.testing.assert_allclose(bary, recon, rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(float(jnp.sum(bary)), 1.0, rtol=1e-5)  # a histogram
  # weights concentrated on one image of several give that image's reconstruction too
  bary3 = ops.barycenter(emb.encode, emb.decode, x[3:6], np.array([1.0, 0.0, 0.0]))
  np.testing.assert_allclose(bary3, recon, rtol=1e-4, atol=1e-6)
  # interpolation end points are the reconstructions
  strip = ops.interpolate(emb.encode, emb.decode, x[3], x[4], [0.0, 1.0])
  np.testing.assert_allclose(strip[0], recon, rtol=1e-4, atol=1e-6)


def test_model_operations_are_consistent(tiny_run):
  model, state, x, _ = tiny_run
  emb = dwe.embedder(model, state.params)
  pred, _, _ = model.apply({"params": state.params}, x[:5], x[5:10])
  full = ops.pairwise_w2(emb.encode, x[:5], x[5:10])
  np.testing.assert_allclose(np.diag(full), pred, rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(ops.independent_w2(emb.encode, x[:5], x[5:10]), pred, rtol=1e-4,
                             atol=1e-5)
  # symmetry of the siamese estimate
  np.testing.assert_allclose(ops.pairwise_w2(emb.encode, x[:6]),
                             ops.pairwise_w2(emb.encode, x[:6]).T, atol=1e-5)


def test_as_model_input_rejects_bad_images():
  with pytest.raises(ValueError, match="non-negative"):
    dwe.as_model_input(-np.ones((2, 4, 4)))
  with pytest.raises(ValueError, match="mass"):
    dwe.as_model_input(np.zeros((2, 4, 4)))
  with pytest.raises(ValueError, match="grayscale"):
    dwe.as_model_input(np.ones((2, 4, 4, 3)))
