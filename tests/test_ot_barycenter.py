"""Fixed-support Wasserstein barycenters (entropic and LP), against POT in float64."""

import jax
import jax.numpy as jnp
import numpy as np
import ot  # POT: independent reference only.
import pytest

import wassml.ot as wot

N = 50
M = ot.utils.dist0(N)
M /= M.max()


def _gaussians(K, seed=0, n=N):
  rng = np.random.default_rng(seed)
  return np.stack([ot.datasets.make_1D_gauss(n, m=rng.uniform(0.2, 0.8) * n,
                                             s=rng.uniform(0.04, 0.1) * n) for _ in range(K)])


WEIGHTS = {2: np.array([0.3, 0.7]), 3: np.array([0.2, 0.5, 0.3])}


def _kkt_spread(b, A, w, cost, reg):
  """Optimality of ``b`` for ``min_b sum_k w_k OT_eps(a_k, b)``, checked with POT's Sinkhorn:
  ``sum_k w_k g_k`` (``g_k = eps log v_k``, the gradient in ``b``) must be constant."""
  b = np.array(b, np.float64)
  b /= b.sum()
  costs = cost if np.ndim(cost) == 3 else [cost] * len(A)
  G = [reg * ot.sinkhorn(ak, b, ck, reg, method="sinkhorn_log", stopThr=1e-13,
                         numItermax=100000, log=True)[1]["log_v"] for ak, ck in zip(A, costs)]
  s = np.einsum("k,kj->j", w, np.array(G))
  return np.ptp(s)


@pytest.mark.parametrize("K", [2, 3])
@pytest.mark.parametrize("mode", ["kernel", "log"])
def test_matches_pot_nonuniform_weights(x64, K, mode):
  A, w, reg = _gaussians(K, seed=K), WEIGHTS[K], 1e-2
  b, out = wot.barycenter(M, A, w, epsilon=reg, mode=mode, return_output=True)
  # POT's "sinkhorn_log" barycenter (POT's "sinkhorn" and "sinkhorn_stabilized" ones start
  # from a biased point when the weights are not uniform: PythonOT/POT#870, issue #134).
  ref = ot.bregman.barycenter(A.T, M, reg, w, method="sinkhorn_log", numItermax=20000,
                              stopThr=1e-14, warn=False)
  np.testing.assert_allclose(np.asarray(b), ref, atol=1e-10)
  assert _kkt_spread(b, A, w, M, reg) < 1e-9
  assert bool(out.converged) and float(out.error) <= 1e-9
  assert 0 < int(out.num_iters) < 1000 and int(out.num_iters) % 10 == 0
  np.testing.assert_allclose(float(jnp.sum(b)), 1.0, atol=1e-9)
  # The diagnostics' potentials rebuild plans with rows a_k and columns ~ b.
  P = np.exp((np.asarray(out.f)[:, :, None] + np.asarray(out.g)[:, None, :] - M[None]) / reg)
  np.testing.assert_allclose(P.sum(2), A, atol=1e-12)
  np.testing.assert_allclose(P.sum(1), np.broadcast_to(b, (K, N)), atol=1e-9)


def test_uniform_weights_match_pot_kernel_method(x64):
  A, reg = _gaussians(3, seed=4), 2e-2
  w = np.full(3, 1 / 3)
  ref = ot.bregman.barycenter(A.T, M, reg, w, method="sinkhorn", numItermax=20000,
                              stopThr=1e-14, warn=False)
  np.testing.assert_allclose(np.asarray(wot.barycenter(M, A, epsilon=reg, mode="kernel")), ref,
                             atol=1e-10)


def test_small_epsilon_runs_in_the_log_domain(x64):
  A, w, reg = _gaussians(2, seed=5), WEIGHTS[2], 1e-3  # max C / eps = 1000 > 500 (float64)
  with pytest.raises(ValueError, match="would underflow"):
    wot.barycenter(M, A, w, epsilon=reg, mode="kernel")
  b = wot.barycenter(M, A, w, epsilon=reg, num_iters=5000)  # "auto" -> "log"
  ref = ot.bregman.barycenter(A.T, M, reg, w, method="sinkhorn_log", numItermax=50000,
                              stopThr=1e-14, warn=False)
  np.testing.assert_allclose(np.asarray(b), ref, atol=1e-9)
  np.testing.assert_array_equal(b, wot.barycenter(M, A, w, epsilon=reg, mode="log",
                                                  num_iters=5000))


def test_per_measure_costs_onto_a_coarser_support(x64):
  """``cost: [K, n, m]``: measures on different grids, barycenter on a third one (m != n)."""
  A, w, reg = _gaussians(2, seed=6), WEIGHTS[2], 2e-2
  xs = [np.linspace(0, 1, N), np.linspace(0.1, 1.1, N)]
  z = np.linspace(0, 1.1, 20)
  C = np.stack([(x[:, None] - z[None, :]) ** 2 for x in xs])
  b, out = wot.barycenter(C, A, w, epsilon=reg, return_output=True)
  assert b.shape == (20,) and bool(out.converged)
  assert _kkt_spread(b, A, w, C, reg) < 1e-9
  # Identical per-measure costs give the shared-cost barycenter.
  same = wot.barycenter(np.stack([M, M]), A, w, epsilon=reg)
  np.testing.assert_allclose(same, wot.barycenter(M, A, w, epsilon=reg), atol=1e-14)


@pytest.mark.parametrize("mode", ["kernel", "log"])
def test_vmap_equals_loop(x64, mode):
  batch = np.stack([_gaussians(3, seed=s) for s in range(3)])
  W = np.array([[0.2, 0.5, 0.3], [1 / 3, 1 / 3, 1 / 3], [0.6, 0.0, 0.4]])
  fn = lambda A, w: wot.barycenter(M, A, w, epsilon=2e-2, mode=mode)
  v = jax.jit(jax.vmap(fn))(batch, W)
  for i in range(3):
    np.testing.assert_allclose(v[i], fn(batch[i], W[i]), atol=1e-12)
  # The implicit gradient under vmap, too.
  t = np.linspace(-1.0, 1.0, N)
  grad = jax.grad(lambda A, w: jnp.sum(t * fn(A, w)))
  gv = jax.vmap(grad)(batch, W)
  for i in range(3):
    np.testing.assert_allclose(gv[i], grad(batch[i], W[i]), atol=1e-10)


@pytest.mark.parametrize("mode", ["kernel", "log"])
def test_gradients_implicit_unroll_and_finite_differences(x64, mode):
  n = 30
  cost = ot.utils.dist0(n)
  cost /= cost.max()
  A = _gaussians(2, seed=7, n=n)
  w, reg = WEIGHTS[2], 2e-2
  t = np.linspace(-1.0, 1.0, n) ** 3

  def loss(A, w, grad_mode="implicit"):
    return jnp.sum(t * wot.barycenter(cost, A, w, epsilon=reg, mode=mode, grad_mode=grad_mode,
                                      num_iters=2000))

  gA, gw = jax.grad(loss, argnums=(0, 1))(A, w)
  uA, uw = jax.grad(loss, argnums=(0, 1))(A, w, "unroll")
  assert np.all(np.isfinite(gA)) and np.all(np.isfinite(gw))
  # Directions that keep the histograms and the weights normalised (and A positive).
  rng = np.random.default_rng(8)
  dA = A * rng.normal(size=A.shape)
  dA -= A * dA.sum(1, keepdims=True)
  dw = np.array([1.0, -1.0])
  h = 1e-5
  fdA = (loss(A + h * dA, w) - loss(A - h * dA, w)) / (2 * h)
  fdw = (loss(A, w + h * dw) - loss(A, w - h * dw)) / (2 * h)
  for grad_A, grad_w in ((gA, gw), (uA, uw)):
    np.testing.assert_allclose(float(np.sum(grad_A * dA)), float(fdA), rtol=1e-6)
    np.testing.assert_allclose(float(grad_w @ dw), float(fdw), rtol=1e-6)
  # A histogram with empty bins still gets a finite gradient.
  A0 = A.copy()
  A0[0, :5] = 0.0
  A0[0] /= A0[0].sum()
  assert np.all(np.isfinite(jax.grad(loss)(A0, w)))


def test_float32_defaults():
  A = jnp.asarray(_gaussians(2, seed=9), jnp.float32)
  b, out = wot.barycenter(jnp.asarray(M, jnp.float32), A, epsilon=2e-2, return_output=True)
  assert b.dtype == jnp.float32 and bool(out.converged) and float(out.error) <= 1e-5
  A64 = np.asarray(A, np.float64)
  ref = ot.bregman.barycenter((A64 / A64.sum(1, keepdims=True)).T, M, 2e-2, np.full(2, 0.5),
                              method="sinkhorn_log", numItermax=20000, stopThr=1e-12, warn=False)
  np.testing.assert_allclose(np.asarray(b), ref, atol=1e-5)


def test_errors():
  A = _gaussians(2)
  with pytest.raises(ValueError, match=r"measures\[1\] sums to"):
    wot.barycenter(M, A * np.array([[1.0], [1.2]]), epsilon=0.1)
  with pytest.raises(ValueError, match="weights must sum to 1"):
    wot.barycenter(M, A, np.array([0.5, 0.6]), epsilon=0.1)
  with pytest.raises(ValueError, match="weights must have shape"):
    wot.barycenter(M, A, np.full(3, 1 / 3), epsilon=0.1)
  with pytest.raises(ValueError, match="does not match measures"):
    wot.barycenter(M[:-1], A, epsilon=0.1)
  with pytest.raises(ValueError, match="does not match measures"):
    wot.barycenter(np.stack([M, M, M]), A, epsilon=0.1)
  with pytest.raises(ValueError, match="measures must have 2 dimension"):
    wot.barycenter(M, A[0], epsilon=0.1)
  with pytest.raises(ValueError, match="measures must be non-negative"):
    wot.barycenter(M, A - A.mean(), epsilon=0.1)
  with pytest.raises(ValueError, match="weights must be non-negative"):
    wot.barycenter(M, A, np.array([1.5, -0.5]), epsilon=0.1)
  for eps in (0.0, -1.0):
    with pytest.raises(ValueError, match="epsilon must be a finite positive"):
      wot.barycenter(M, A, epsilon=eps)
  with pytest.raises(ValueError, match="mode must be one of"):
    wot.barycenter(M, A, epsilon=0.1, mode="fast")
  with pytest.raises(ValueError, match="grad_mode must be one of"):
    wot.barycenter(M, A, epsilon=0.1, grad_mode="envelope")
  with pytest.raises(ValueError, match="cost must be finite"):
    wot.barycenter(np.full_like(M, np.inf), A, epsilon=0.1)
  with pytest.raises(ValueError, match="sums to"):
    wot.barycenter_exact(M, A * 2)


@pytest.mark.parametrize("K", [2, 3])
def test_exact_barycenter_matches_pot_lp(x64, K):
  n = 25
  cost = ot.utils.dist0(n)
  cost /= cost.max()
  A, w = _gaussians(K, seed=11 + K, n=n), WEIGHTS[K]
  b = np.asarray(wot.barycenter_exact(cost, A, w))
  ref = ot.lp.barycenter(A.T, cost, w)
  # The LP barycenter need not be unique: compare the objective sum_k w_k W(a_k, b).
  objective = lambda b: sum(wk * ot.emd2(ak, b / b.sum(), cost) for wk, ak in zip(w, A))
  np.testing.assert_allclose(b.sum(), 1.0, atol=1e-9)
  assert b.min() >= 0
  np.testing.assert_allclose(objective(b), objective(ref), rtol=1e-7)
  # jit and vmap (one LP per problem, on the host).
  batch = np.stack([A, A[::-1]])
  v = jax.jit(jax.vmap(lambda A: wot.barycenter_exact(cost, A, w)))(batch)
  np.testing.assert_allclose(v[0], b, atol=1e-12)
  np.testing.assert_allclose(objective(np.asarray(v[1])),
                             objective(ot.lp.barycenter(A[::-1].T, cost, w)), rtol=1e-7)


def test_doctests():
  import doctest
  import importlib

  module = importlib.import_module("wassml.ot.barycenters")
  result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
  assert result.attempted > 0 and result.failed == 0
