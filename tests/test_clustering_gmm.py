"""Tests for wassml.clustering.gmm and .mixture: parity with scikit-learn, bad input, degeneracy."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.mixture import GaussianMixture

from wassml import metrics
from wassml.clustering import gmm, mixture


@pytest.fixture(scope="module")
def blobs():
  x, y = make_blobs(240, centers=3, n_features=2, random_state=0, cluster_std=[1.0, 2.0, 0.5])
  return x.astype(np.float32), y


@pytest.mark.parametrize("covariance_type", ["full", "diag", "tied"])
def test_em_matches_sklearn_from_same_start(blobs, covariance_type):
  x, _ = blobs
  p0, _ = gmm.fit_gmm(jax.random.key(0), x, 3, covariance_type=covariance_type, num_iters=1)
  w0, m0, c0 = map(np.asarray, (p0.weights, p0.means, p0.covariances))
  if covariance_type == "tied":  # ours: K equal matrices; sklearn: one
    np.testing.assert_array_equal(c0, np.broadcast_to(c0[0], c0.shape))
    c0 = c0[0]
  prec = np.linalg.inv(c0) if covariance_type != "diag" else 1.0 / c0
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    sk = GaussianMixture(3, covariance_type=covariance_type, weights_init=w0, means_init=m0,
                         precisions_init=prec, max_iter=15, tol=0.0).fit(x)
  p, info = gmm.fit_gmm(jax.random.key(0), x, 3, covariance_type=covariance_type, num_iters=15,
                        tol=0.0, params_init=p0)
  assert int(info.num_iters) == 15
  np.testing.assert_allclose(float(info.log_likelihood), sk.score(x), rtol=1e-5)
  np.testing.assert_allclose(np.asarray(p.means), sk.means_, atol=1e-4)
  np.testing.assert_allclose(np.asarray(p.weights), sk.weights_, atol=1e-5)
  np.testing.assert_allclose(np.asarray(p.covariances),
                             np.broadcast_to(sk.covariances_, p.covariances.shape),
                             rtol=1e-4, atol=1e-5)
  np.testing.assert_array_equal(np.asarray(gmm.predict(p, x)), sk.predict(x))
  np.testing.assert_allclose(np.asarray(gmm.predict_proba(p, x)), sk.predict_proba(x), atol=1e-4)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "tied"])
def test_gmm_from_scratch_matches_sklearn_solution(blobs, covariance_type):
  x, y = blobs
  p, info = gmm.fit_gmm(jax.random.key(1), x, 3, covariance_type=covariance_type)
  sk = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(x)
  assert bool(info.converged)
  np.testing.assert_allclose(float(info.log_likelihood), sk.score(x), atol=1e-2)
  assert metrics.ari(sk.predict(x), np.asarray(gmm.predict(p, x))) == pytest.approx(1.0)
  if covariance_type != "tied":  # one shared covariance misfits blobs of std 1, 2 and 0.5
    assert metrics.cluster_accuracy(y, np.asarray(gmm.predict(p, x))) > 0.9


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_equal_weights_em_is_the_constrained_fixed_point(blobs, covariance_type):
  """EM with proportions fixed at 1/K: checked in float64 numpy against the stationarity
  conditions of the constrained likelihood (responsibilities under equal weights reproduce the
  means and covariances), and its likelihood beats the free fit with its weights set to 1/K."""
  from scipy import stats
  x, _ = blobs
  p, info = gmm.fit_gmm(jax.random.key(1), x, 3, covariance_type=covariance_type, num_iters=500,
                        tol=1e-9, equal_weights=True)
  np.testing.assert_allclose(np.asarray(p.weights), np.full(3, 1 / 3), rtol=1e-6)
  m, c = np.asarray(p.means, np.float64), np.asarray(p.covariances, np.float64)
  xd = x.astype(np.float64)
  dens = np.stack([stats.multivariate_normal(m[k], c[k]).pdf(xd) for k in range(3)], 1) / 3
  r = dens / dens.sum(1, keepdims=True)
  nk = r.sum(0)
  np.testing.assert_allclose(m, (r.T @ xd) / nk[:, None], atol=2e-3)
  covs = np.stack([(r[:, k, None] * (xd - m[k])).T @ (xd - m[k]) / nk[k] for k in range(3)])
  want = covs if covariance_type == "full" else np.broadcast_to(
      (nk[:, None, None] * covs).sum(0) / len(x), covs.shape)
  np.testing.assert_allclose(c, want + 1e-6 * np.eye(2), rtol=2e-3, atol=2e-3)
  np.testing.assert_allclose(float(info.log_likelihood), np.mean(np.log(dens.sum(1))), rtol=1e-5)
  free, _ = gmm.fit_gmm(jax.random.key(1), x, 3, covariance_type=covariance_type)
  free_eq = free.replace(weights=jnp.full(3, 1 / 3))
  assert float(info.log_likelihood) >= float(gmm.log_likelihood(free_eq, x)) - 1e-5
  assert not np.allclose(np.asarray(free.weights), 1 / 3, atol=1e-2)  # the constraint binds


def test_kmeans_matches_sklearn(blobs):
  x, y = blobs
  km = gmm.kmeans(jax.random.key(0), x, 3, n_init=3)
  sk_same = KMeans(3, init=np.asarray(km.centers), n_init=1).fit(x)  # already converged
  np.testing.assert_array_equal(np.asarray(km.labels), sk_same.labels_)
  np.testing.assert_allclose(float(km.inertia), sk_same.inertia_, rtol=1e-5)
  sk = KMeans(3, n_init=10, random_state=0).fit(x)
  np.testing.assert_allclose(float(km.inertia), sk.inertia_, rtol=1e-4)
  assert metrics.ari(sk.labels_, np.asarray(km.labels)) == pytest.approx(1.0)
  # Lloyd from a given start equals scikit-learn's Lloyd from the same start.
  start = x[:3]
  ours = gmm.kmeans(None, x, 3, init=start)
  theirs = KMeans(3, init=start, n_init=1, algorithm="lloyd").fit(x)
  np.testing.assert_array_equal(np.asarray(ours.labels), theirs.labels_)


def test_kmeans_plusplus_picks_distinct_data_points(blobs):
  x, _ = blobs
  c = np.asarray(gmm.kmeans_plusplus(jax.random.key(3), x, 3))
  assert len({tuple(r) for r in c}) == 3
  assert all(any(np.allclose(r, xi) for xi in x) for r in c)


def test_vmapped_restarts_are_independent(blobs):
  x, _ = blobs
  keys = jax.random.split(jax.random.key(0), 4)
  params, info = jax.vmap(lambda k: gmm.fit_gmm(k, x, 3))(keys)
  assert params.means.shape == (4, 3, 2)
  assert np.all(np.isfinite(np.asarray(info.log_likelihood)))


def test_degenerate_covariance_is_regularised_not_nan():
  rng = np.random.default_rng(0)
  # One cluster of identical points, one dimension with zero variance, more components than
  # distinct points need: EM must stay finite.
  x = np.concatenate([np.zeros((20, 3)), rng.normal(size=(20, 3)) * [1.0, 1.0, 0.0] + 5.0])
  for ct in ("full", "diag"):
    for init in ("kmeans", "k-means++", "random"):
      p, info = gmm.fit_gmm(jax.random.key(0), x.astype(np.float32), 5, covariance_type=ct,
                            init=init)
      for leaf in jax.tree.leaves(p):
        assert np.all(np.isfinite(np.asarray(leaf))), (ct, init)
      assert np.isfinite(float(info.log_likelihood))
      assert np.all(np.isfinite(np.asarray(gmm.predict_proba(p, x))))


def test_bad_input_raises():
  x = np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32)
  with pytest.raises(ValueError, match="larger than the number of points"):
    gmm.fit_gmm(jax.random.key(0), x, 6)
  with pytest.raises(ValueError, match="larger than the number of points"):
    gmm.kmeans(jax.random.key(0), x, 6)
  bad = x.copy()
  bad[2, 1] = np.nan
  with pytest.raises(ValueError, match="NaN"):
    gmm.fit_gmm(jax.random.key(0), bad, 2)
  with pytest.raises(ValueError, match="NaN"):
    gmm.kmeans(jax.random.key(0), bad, 2)
  with pytest.raises(ValueError, match="covariance_type"):
    gmm.fit_gmm(jax.random.key(0), x, 2, covariance_type="spherical")
  with pytest.raises(ValueError, match="2-D"):
    gmm.fit_gmm(jax.random.key(0), x[:, 0], 2)


def test_mixture_reparametrisation_roundtrip_and_logprob(blobs):
  x, _ = blobs
  p, _ = gmm.fit_gmm(jax.random.key(1), x, 3)
  m = mixture.from_gmm(p)
  np.testing.assert_allclose(np.asarray(mixture.covariances(m)), np.asarray(p.covariances),
                             rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(np.asarray(mixture.proportions(m)), np.asarray(p.weights), rtol=1e-5)
  np.testing.assert_allclose(np.asarray(mixture.log_prob_components(m, x)),
                             np.asarray(gmm.joint_log_prob(p, x)), rtol=1e-4, atol=1e-4)
  np.testing.assert_array_equal(np.asarray(mixture.map_assign(m, x)), np.asarray(gmm.predict(p, x)))
  # Any raw parameters give a positive-definite covariance (exp on the Cholesky diagonal).
  raw = jax.random.normal(jax.random.key(2), m.raw_scale.shape) * 3.0
  cov = np.asarray(mixture.covariances(mixture.MixtureParams(m.logits, m.means, raw)))
  assert np.all(np.linalg.eigvalsh(cov) > 0)


def test_mixture_sampling_moments():
  means = jnp.array([[0.0, 0.0], [5.0, -3.0]])
  cov = jnp.array([[[1.0, 0.5], [0.5, 2.0]], [[0.3, 0.0], [0.0, 0.1]]])
  m = mixture.from_gmm(gmm.GMMParams(jnp.array([0.25, 0.75]), means, cov))
  z = mixture.sample_components(jax.random.key(0), m, 20000)
  assert z.shape == (2, 20000, 2)
  for k in range(2):
    np.testing.assert_allclose(np.asarray(z[k].mean(0)), means[k], atol=0.05)
    np.testing.assert_allclose(np.cov(np.asarray(z[k]).T), cov[k], atol=0.06)
  _, c = mixture.sample(jax.random.key(1), m, 20000)
  assert abs(float(c.mean()) - 0.75) < 0.02


def test_padded_mixture_is_inert(blobs):
  x, _ = blobs
  p, _ = gmm.fit_gmm(jax.random.key(1), x, 3)
  m = mixture.from_gmm(p)
  padded = mixture.pad(m, 6)
  assert padded.num_components == 6
  np.testing.assert_allclose(np.asarray(mixture.proportions(padded))[3:], 0.0)
  np.testing.assert_array_equal(np.asarray(mixture.map_assign(padded, x)),
                                np.asarray(mixture.map_assign(m, x)))
  np.testing.assert_allclose(float(mixture.log_likelihood(padded, x)),
                             float(mixture.log_likelihood(m, x)), rtol=1e-5)
  g = jax.grad(lambda q: jnp.sum(mixture.proportions(q) * q.means.sum(-1)))(padded)
  np.testing.assert_allclose(np.asarray(g.means)[3:], 0.0)
  np.testing.assert_allclose(np.asarray(g.logits)[3:], 0.0)


def test_gmm_n_init_keeps_the_highest_likelihood_fit():
  rng = np.random.default_rng(0)
  # Uneven 1-D clusters: EM from k-means seeds reaches different optima for different keys.
  x = np.concatenate([rng.uniform(0, 3, 300), rng.uniform(3.3, 3.6, 300),
                      rng.uniform(3.9, 6, 300)]).astype(np.float32)[:, None]
  key = jax.random.key(3)
  best, info = gmm.fit_gmm(key, x, 3, n_init=6, num_iters=200)
  singles = [float(gmm.fit_gmm(k, x, 3, num_iters=200)[1].log_likelihood)
             for k in jax.random.split(key, 6)]
  np.testing.assert_allclose(float(info.log_likelihood), max(singles), rtol=1e-6)
  np.testing.assert_allclose(float(gmm.log_likelihood(best, x)), max(singles), atol=1e-3)
  with pytest.raises(ValueError, match="n_init must be >= 1"):
    gmm.fit_gmm(key, x, 3, n_init=0)
