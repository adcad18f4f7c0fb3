"""Tests for wassml.embedding.operations against brute force, scikit-learn and POT."""

import numpy as np
import ot as pot
import pytest
from sklearn.decomposition import PCA

import jax
import jax.numpy as jnp

from wassml.embedding import operations as ops
from wassml.embedding import pairs


def _rand(seed, *shape):
  return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def test_pairwise_sq_distances_matches_brute_force():
  z1, z2 = _rand(0, 7, 5), _rand(1, 4, 5)
  brute = ((z1[:, None, :] - z2[None, :, :]) ** 2).sum(-1)
  np.testing.assert_allclose(ops.pairwise_sq_distances(z1, z2), brute, rtol=1e-5, atol=1e-5)
  d = np.asarray(ops.pairwise_sq_distances(z1))
  assert d.shape == (7, 7) and np.all(d >= 0)
  np.testing.assert_allclose(np.diag(d), 0.0, atol=1e-5)


def test_pairwise_and_independent_w2_agree():
  w = _rand(2, 4, 3)
  encode = lambda x: jnp.asarray(x).reshape(x.shape[0], -1) @ w
  x, y = _rand(3, 5, 2, 2, 3)[..., :1], _rand(4, 5, 2, 2, 3)[..., :1]
  full = np.asarray(ops.pairwise_w2(encode, x, y))
  indep = np.asarray(ops.independent_w2(encode, x, y))
  np.testing.assert_allclose(np.diag(full), indep, rtol=1e-4, atol=1e-4)


def test_nearest_neighbours_matches_brute_force():
  q, db = _rand(5, 6, 4), _rand(6, 30, 4)
  dist, idx = ops.nearest_neighbours(q, db, k=3)
  brute = ((q[:, None] - db[None]) ** 2).sum(-1)
  np.testing.assert_array_equal(np.asarray(idx), np.argsort(brute, axis=1)[:, :3])
  np.testing.assert_allclose(dist, np.sort(brute, axis=1)[:, :3], rtol=1e-5, atol=1e-5)
  with pytest.raises(ValueError, match="k must be"):
    ops.nearest_neighbours(q, db, k=31)


def test_pga_matches_sklearn_pca():
  z = _rand(7, 40, 6) * np.array([5, 3, 2, 1, 0.5, 0.1], np.float32)
  res = ops.pga(z, num_components=3)
  ref = PCA(n_components=3).fit(z)
  np.testing.assert_allclose(res.mean, ref.mean_, rtol=1e-5, atol=1e-5)
  # directions agree up to sign
  np.testing.assert_allclose(np.abs(np.asarray(res.components) @ ref.components_.T), np.eye(3),
                             atol=1e-4)
  np.testing.assert_allclose(np.asarray(res.stddev) ** 2, ref.explained_variance_, rtol=1e-4)
  decode = lambda zz: zz[:, :4].reshape(-1, 2, 2, 1)
  modes = ops.pga_modes(decode, res, steps=(-1.0, 0.0, 1.0))
  assert modes.shape == (3, 3, 2, 2, 1)
  np.testing.assert_allclose(modes[:, 1], np.broadcast_to(res.mean[:4].reshape(2, 2, 1),
                                                          (3, 2, 2, 1)), atol=1e-6)


def test_barycenter_weights_and_linear_maps():
  # with linear encode/decode the barycenter is the weighted mean of the inputs
  encode = lambda x: jnp.asarray(x).reshape(x.shape[0], -1)
  decode = lambda z: z.reshape(-1, 2, 2, 1)
  x = np.abs(_rand(8, 3, 2, 2, 1))
  w = np.array([0.2, 0.3, 0.5], np.float32)
  np.testing.assert_allclose(ops.barycenter(encode, decode, x, w), np.tensordot(w, x, 1),
                             rtol=1e-5)
  np.testing.assert_allclose(ops.barycenter(encode, decode, x[:1]), x[0], rtol=1e-6)
  with pytest.raises(ValueError, match="sum to 1"):
    ops.barycenter(encode, decode, x, np.array([0.2, 0.3, 0.6]))
  with pytest.raises(ValueError, match="non-negative"):
    ops.barycenter(encode, decode, x, np.array([-0.2, 0.7, 0.5]))
  with pytest.raises(ValueError, match="shape"):
    ops.barycenter(encode, decode, x, np.array([0.5, 0.5]))
  ts = np.linspace(0, 1, 5)
  strip = ops.interpolate(encode, decode, x[0], x[1], ts)
  np.testing.assert_allclose(strip[2], 0.5 * (x[0] + x[1]), rtol=1e-5)


def _blob(h, w, r, c, s=1.0):
  rr, cc = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
  img = np.exp(-((rr - r) ** 2 + (cc - c) ** 2) / (2 * s * s))
  return (img / img.sum()).astype(np.float64)


def test_displacement_interpolation_translates_a_blob():
  h = w = 9
  a, b = _blob(h, w, 2, 2).ravel(), _blob(h, w, 2, 6).ravel()
  cost = np.asarray(pairs.grid_cost(h, w), np.float64)
  plan = pot.emd(a, b, cost)
  mid = np.asarray(ops.displacement_interpolation(plan.astype(np.float32), 0.5, (h, w)))[..., 0]
  np.testing.assert_allclose(mid.sum(), 1.0, rtol=1e-5)
  np.testing.assert_allclose(mid, _blob(h, w, 2, 4), atol=2e-3)  # a pure shift by 2 pixels
  np.testing.assert_allclose(
      np.asarray(ops.displacement_interpolation(plan.astype(np.float32), 0.0, (h, w)))[..., 0],
      a.reshape(h, w), atol=1e-6)


def test_entropic_barycenter_matches_pot():
  # uniform weights: POT 0.9.7 initialises its scalings with an unweighted geometric mean, which
  # only matches the Bregman-projection fixed point when the weights are uniform.
  h = w = 6
  a, b = _blob(h, w, 1, 1), _blob(h, w, 4, 3)
  hists = np.stack([a.ravel(), b.ravel()])
  cost = np.asarray(pairs.grid_cost(h, w), np.float64)
  eps = 2.0
  ref = pot.bregman.barycenter(hists.T, cost, eps, weights=np.array([0.5, 0.5]),
                               numItermax=2000, stopThr=1e-12)
  got = ops.entropic_barycenter(hists.astype(np.float32), jnp.array([0.5, 0.5]),
                                cost.astype(np.float32), epsilon=eps, num_iters=500)
  np.testing.assert_allclose(got, ref, atol=1e-5)
