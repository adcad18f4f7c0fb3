"""Tests for the DiWaC losses (wassml.clustering.diwac_losses) against exact OT (POT, scipy)."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import ot as pot
import pytest
import scipy.optimize

from wassml.clustering import diwac_losses as dl


def _w1_potential(x, a, b):
  """Optimal 1-Lipschitz Kantorovich potential of W1(a, b) on the points x, by LP (scipy)."""
  n = len(x)
  d = np.linalg.norm(x[:, None] - x[None], axis=-1)
  rows, rhs = [], []
  for i, j in itertools.permutations(range(n), 2):
    r = np.zeros(n)
    r[i], r[j] = 1.0, -1.0
    rows.append(r)
    rhs.append(d[i, j])
  # phi is defined up to a constant: pin phi_0 = 0 (a and b sum to one only up to rounding).
  res = scipy.optimize.linprog(-(a - b), A_ub=np.array(rows), b_ub=np.array(rhs),
                               bounds=[(0, 0)] + [(None, None)] * (n - 1), method="highs")
  assert res.status == 0
  return res.x


def _w1(x, a, b):
  return pot.emd2(a, b, np.linalg.norm(x[:, None] - x[None], axis=-1))


@pytest.fixture(scope="module")
def tiny():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(7, 2))
  logits = rng.normal(size=(7, 3)) * 2.0
  tau = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
  return x, tau


def test_proportions_and_weights(tiny):
  _, tau = tiny
  pi = np.asarray(dl.proportions(tau))
  np.testing.assert_allclose(pi, tau.mean(0), rtol=1e-6)
  w, wbar = np.asarray(dl.cluster_weights(tau)), np.asarray(dl.rest_weights(tau))
  np.testing.assert_allclose(w.sum(1), 1.0, rtol=1e-6)
  np.testing.assert_allclose(wbar.sum(1), 1.0, rtol=1e-6)
  # The data distribution splits into clusters: p = pi_k p_k + (1 - pi_k) pbar_k for every k.
  n = tau.shape[0]
  np.testing.assert_allclose(pi[:, None] * w + (1 - pi[:, None]) * wbar, np.full((3, n), 1 / n),
                             atol=1e-6)


def test_ovr_closed_form_equals_definition_for_any_critic(tiny):
  _, tau = tiny
  c = np.random.default_rng(1).normal(size=tau.shape)
  np.testing.assert_allclose(float(dl.ovr_loss(tau, c)), float(dl.ovr_loss_definition(tau, c)),
                             rtol=1e-5)


def test_ovr_closed_form_equals_wasserstein_definition_with_optimal_critics(tiny):
  """E_x[sum_k (tau_k - pi_k) C_k] = sum_k pi_k (1 - pi_k) W1(p_k, pbar_k) with exact OT."""
  x, tau = tiny
  w, wbar = np.asarray(dl.cluster_weights(tau), np.float64), np.asarray(dl.rest_weights(tau),
                                                                         np.float64)
  pi = tau.mean(0)
  definition = sum(pi[k] * (1 - pi[k]) * _w1(x, w[k], wbar[k]) for k in range(3))
  critics = np.stack([_w1_potential(x, w[k], wbar[k]) for k in range(3)], -1)
  closed = float(dl.ovr_loss(jnp.asarray(tau, jnp.float32), jnp.asarray(critics, jnp.float32)))
  np.testing.assert_allclose(closed, definition, rtol=1e-4)
  # Dual estimates per cluster are exactly the distances.
  np.testing.assert_allclose(np.asarray(dl.ovr_dual_estimates(tau, critics)),
                             [_w1(x, w[k], wbar[k]) for k in range(3)], rtol=1e-4)


@pytest.mark.parametrize("normalized", [False, True])
def test_ovo_losses_equal_wasserstein_definitions_with_optimal_critics(tiny, normalized):
  x, tau = tiny
  k = tau.shape[1]
  w = np.asarray(dl.cluster_weights(tau), np.float64)
  pi = tau.mean(0)
  dist = np.array([[_w1(x, w[a], w[b]) for b in range(k)] for a in range(k)])
  if normalized:
    definition = sum(pi[a] * pi[b] * dist[a, b] for a in range(k) for b in range(k))
  else:
    definition = dist.sum() / k**2
  i, j = dl.pair_indices(k)
  pair_critics = np.stack([_w1_potential(x, w[a], w[b]) for a, b in zip(i, j)], -1)
  value = float(dl.ovo_loss(tau, pair_critics, normalized=normalized))
  np.testing.assert_allclose(value, definition, rtol=1e-4)
  np.testing.assert_allclose(np.asarray(dl.pairwise_dual_estimates(tau, pair_critics)),
                             dist[i, j], rtol=1e-4)


def test_losses_are_lower_bounds_with_suboptimal_lipschitz_critics(tiny):
  """A 1-Lipschitz critic that is not optimal under-estimates every W (dual feasibility)."""
  x, tau = tiny
  c = np.stack([x[:, 0], -x[:, 1], x @ np.array([0.6, 0.8])], -1)  # 1-Lipschitz linear maps
  w, wbar = np.asarray(dl.cluster_weights(tau)), np.asarray(dl.rest_weights(tau))
  est = np.asarray(dl.ovr_dual_estimates(tau, c))
  exact = np.array([_w1(x, w[k], wbar[k]) for k in range(3)])
  assert np.all(est <= exact + 1e-5)


def test_hard_assignments_and_separation_increase():
  """Well-separated hard clusters separate more than a random split of the same points."""
  rng = np.random.default_rng(0)
  x = np.concatenate([rng.normal(size=(10, 1)) - 5, rng.normal(size=(10, 1)) + 5])
  good = np.eye(2)[np.repeat([0, 1], 10)]
  bad = np.eye(2)[rng.permutation(np.repeat([0, 1], 10))]
  crit = lambda tau: np.stack([_w1_potential(x, *np.asarray(dl.critic_weights("ovr_n", tau))[:, k])
                               for k in range(2)], -1)
  assert float(dl.ovr_loss(good, crit(good))) > 3 * float(dl.ovr_loss(bad, crit(bad)))


def test_normalized_ovo_is_finite_with_an_empty_cluster():
  tau = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], np.float32)
  vals = np.ones((3, 3), np.float32)
  out = dl.ovo_loss(tau, vals, normalized=True)
  assert np.isfinite(float(out))
  g = jax.grad(lambda t: dl.ovo_loss(t, vals, normalized=True))(jnp.asarray(tau))
  assert np.all(np.isfinite(np.asarray(g)))


def test_num_critics_and_dispatch(tiny):
  _, tau = tiny
  assert dl.num_critics("ovr_n", 4) == 4
  assert dl.num_critics("ovo_n", 4) == 6
  with pytest.raises(ValueError, match="valid"):
    dl.num_critics("ovx", 3)
  c = np.random.default_rng(0).normal(size=(7, 3))
  assert float(dl.separation("ovr_n", tau, c)) == pytest.approx(float(dl.ovr_loss(tau, c)))
  assert float(dl.separation("ovo_u", tau, c)) == pytest.approx(
      float(dl.ovo_loss(tau, c, normalized=False)))


# ----------------------------------------------------------------------------------------------
# DiWaC steps (wassml.clustering.diwac)
# ----------------------------------------------------------------------------------------------
import functools  # noqa: E402

import optax  # noqa: E402

from wassml.clustering import diwac  # noqa: E402


def _blobs_1d(n=64, seed=0):
  rng = np.random.default_rng(seed)
  y = np.repeat([0, 1], n // 2)
  h = (np.where(y == 0, -3.0, 3.0) + 0.5 * rng.normal(size=n))[:, None].astype(np.float32)
  return h, y


@pytest.mark.parametrize("loss", ["ovr_n", "ovo_n", "ovo_u"])
def test_diwac_state_shapes_and_critic_learning(loss):
  h, y = _blobs_1d()
  k = 3
  st = diwac.create_state(jax.random.key(0), k, 1, 1, optax.adam(1e-2), loss=loss,
                          assign_hidden=(8,), critic_hidden=(16,))
  assert diwac.soft_assign(st, h).shape == (64, k)
  assert diwac.critic_values(st, h).shape == (64, dl.num_critics(loss, k))
  np.testing.assert_allclose(np.asarray(diwac.proportions(st, h)).sum(), 1.0, rtol=1e-5)
  # Fix tau to the true (hard) split of the 2 blobs (third cluster empty): the critics learn.
  target = np.eye(k)[y].astype(np.float32)
  distill = jax.jit(diwac.distill_step)
  for i in range(150):
    st, _ = distill(st, {"h": h, "target": target}, jax.random.key(i))
  tau = np.asarray(diwac.soft_assign(st, h))
  assert (tau.argmax(1) == y).mean() == 1.0
  step = jax.jit(functools.partial(diwac.critic_step, loss=loss))
  _, m0 = step(st, {"h": h, "x": h}, jax.random.key(0))
  for i in range(150):
    st, m = step(st, {"h": h, "x": h}, jax.random.key(i))
  assert float(m["mean_w"]) > float(m0["mean_w"]) + 0.3


def test_diwac_assign_step_moves_towards_separation():
  """From a poor start, DiWaC (OvR) recovers two well-separated blobs."""
  h, y = _blobs_1d(n=128)
  st = diwac.create_state(jax.random.key(1), 2, 1, 1, optax.adam(1e-2), loss="ovr_n",
                          assign_hidden=(16,), critic_hidden=(32, 32))
  step = jax.jit(functools.partial(diwac.diwac_step, loss="ovr_n", num_critic=5))
  for i in range(300):
    st, m = step(st, {"h": h, "x": h}, jax.random.key(i))
  pred = np.asarray(diwac.predict(st, h))
  acc = max((pred == y).mean(), (pred != y).mean())
  assert acc > 0.95
  assert 0.3 < float(m["min_proportion"]) <= 0.5
