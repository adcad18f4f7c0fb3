"""Every matrix product outside a network runs at full float32 precision (``Precision.HIGHEST``).

On GPUs and TPUs JAX's default float32 product is TF32 / one bfloat16 pass (relative rounding
~1e-3), which broke seven core tests on an H200 (``experiments/device_check/results/h200``). The
CPU multiplies in float32 whatever the setting, so these tests read the traced programs instead of
the numbers: every ``dot_general`` in the jaxpr of a function (its gradient included, loops and
custom rules included) must carry ``precision=HIGHEST``.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wassml import clustering
from wassml import domain_adaptation as da
from wassml import embedding
from wassml import ot as wot
from wassml import regularization as reg
from wassml.active_learning import coreset, kfac
from wassml.utils import linalg

def _walk(jaxpr):
  """Every equation of a jaxpr and of the jaxprs in its equations' parameters (loops, conds,
  custom rules, pjit calls)."""
  for eqn in jaxpr.eqns:
    yield eqn
    for value in eqn.params.values():
      for sub in (value if isinstance(value, (tuple, list)) else (value,)):
        if hasattr(sub, "jaxpr") and hasattr(sub.jaxpr, "eqns"):  # ClosedJaxpr
          yield from _walk(sub.jaxpr)
        elif hasattr(sub, "eqns"):  # Jaxpr
          yield from _walk(sub)


def _dots(fn, *args):
  """``(number of dot_generals, number at HIGHEST)`` in the jaxpr of ``fn(*args)``."""
  dots = [e for e in _walk(jax.make_jaxpr(fn)(*args).jaxpr) if e.primitive.name == "dot_general"]
  highest = [e for e in dots
             if e.params.get("precision") == (jax.lax.Precision.HIGHEST, jax.lax.Precision.HIGHEST)]
  return len(dots), len(highest)


def _assert_all_highest(fn, *args):
  total, highest = _dots(fn, *args)
  assert total > 0, "no product traced: the check would pass vacuously"
  assert highest == total, f"{total - highest} of {total} products at the default precision"


def _points(n=6, m=5, d=3, seed=0):
  rng = np.random.default_rng(seed)
  return (jnp.asarray(rng.normal(size=(n, d)), jnp.float32),
          jnp.asarray(rng.normal(size=(m, d)), jnp.float32))


def _probs(b=4, k=3, seed=1):
  return jax.nn.softmax(jnp.asarray(np.random.default_rng(seed).normal(size=(b, k)), jnp.float32))


def test_the_check_sees_a_default_precision_product():
  x, y = _points()
  assert _dots(lambda x, y: x @ y.T, x, y) == (1, 0)
  assert _dots(lambda x, y: linalg.matmul(x, y.T), x, y) == (1, 1)
  assert _dots(lambda x, y: linalg.einsum("nd,md->nm", x, y), x, y) == (1, 1)
  with linalg.full_precision():
    assert _dots(lambda x, y: x @ y.T, x, y) == (1, 1)
  with linalg.full_precision(None):
    assert _dots(lambda x, y: x @ y.T, x, y) == (1, 0)


@pytest.mark.parametrize("name, fn", [
    ("sqeuclidean", lambda x, y: jnp.sum(wot.sqeuclidean(x, y))),
    ("sinkhorn kernel", lambda x, y: wot.sinkhorn(wot.sqeuclidean(x, y), epsilon=0.5,
                                                  mode="kernel", num_iters=20).transport_cost),
    ("sinkhorn unroll", lambda x, y: wot.sinkhorn(wot.sqeuclidean(x, y), epsilon=0.5,
                                                  mode="kernel", num_iters=5,
                                                  grad_mode="unroll").transport_cost),
    ("unbalanced kernel", lambda x, y: wot.unbalanced_sinkhorn(
        wot.sqeuclidean(x, y), epsilon=0.5, rho=1.0, mode="kernel", num_iters=20).transport_cost),
    ("ipot", lambda x, y: wot.ipot(wot.sqeuclidean(x, y), num_iters=5).transport_cost),
    ("sinkhorn divergence", lambda x, y: wot.sinkhorn_divergence(x, y, epsilon=0.5,
                                                                 mode="kernel", num_iters=20)),
    ("sliced", lambda x, y: wot.sliced_wasserstein(jax.random.key(0), x, y, num_projections=4)),
    ("DWE distances", lambda x, y: jnp.sum(embedding.pairwise_sq_distances(x, y))),
    ("DeepJDOT joint cost", lambda x, y: jnp.sum(da.joint_cost(
        x, jnp.array([0, 1, 0, 1, 0, 1]), y, y[:, :2], eta1=0.5, eta2=0.5))),
])
def test_ot_costs_and_solvers_and_their_gradients_use_full_precision(name, fn):
  x, y = _points()
  _assert_all_highest(fn, x, y)
  _assert_all_highest(jax.grad(fn, argnums=(0, 1)), x, y)


@pytest.mark.parametrize("mode", ["kernel", "log"])
def test_label_ot_and_its_gradient_use_full_precision(mode):
  p, q = _probs(), _probs(seed=2)
  cost = 1.0 - jnp.eye(3)
  fn = lambda q: jnp.sum(wot.label_ot(p, q, cost, epsilon=0.1, mode=mode))
  if mode == "kernel":  # the log domain has no product (log-sum-exp only)
    _assert_all_highest(fn, q)
  total, highest = _dots(jax.grad(fn), q)
  assert highest == total


def test_mixture_fitting_and_sampling_use_full_precision():
  x = jnp.asarray(np.random.default_rng(0).normal(size=(40, 2)), jnp.float32)
  _assert_all_highest(lambda x: clustering.fit_gmm(jax.random.key(0), x, 2, num_iters=3)[0].means, x)
  _assert_all_highest(lambda x: clustering.kmeans(jax.random.key(0), x, 2, num_iters=3).centers, x)
  _assert_all_highest(lambda x: coreset.k_center_greedy(x[:3], x, 2)[0], x)


def test_label_statistics_and_barycenters_use_full_precision():
  p = _probs(b=8, k=4)
  _assert_all_highest(reg.ground_cost.soft_confusion, p)
  hists = jax.nn.softmax(jnp.asarray(np.random.default_rng(3).normal(size=(2, 5)), jnp.float32))
  cost = jnp.asarray((np.arange(5)[:, None] - np.arange(5)[None]) ** 2 / 16.0, jnp.float32)
  _assert_all_highest(lambda h: embedding.entropic_barycenter(h, jnp.array([0.5, 0.5]), cost,
                                                              epsilon=0.1, num_iters=3), hists)
  z = jnp.asarray(np.random.default_rng(4).normal(size=(3, 4)), jnp.float32)
  _assert_all_highest(embedding.barycenter_embedding, z)


def test_kfac_factors_and_traces_use_full_precision():
  rng = np.random.default_rng(5)
  a = jnp.asarray(rng.normal(size=(6, 2, 3)), jnp.float32)
  g = jnp.asarray(rng.normal(size=(6, 4, 2, 5)), jnp.float32)
  probs = _probs(b=6, k=4)
  stats = lambda a, g: kfac.LayerStats("Dense_0", "dense", a, g, probs)  # noqa: E731
  _assert_all_highest(lambda a, g: kfac.kfac_factors(stats(a, g)), a, g)
  _assert_all_highest(lambda a, g: kfac.per_example_factors(stats(a, g)), a, g)
  _assert_all_highest(lambda a, g: kfac.per_example_traces(stats(a, g), jnp.eye(3), jnp.eye(5)), a, g)
  _assert_all_highest(lambda a, g: kfac.trace_ratio(
      [kfac.kfac_factors(stats(a, g))], [kfac.kfac_factors(stats(2 * a, g))]), a, g)


def _mlp():
  k1, k2 = jax.random.split(jax.random.key(0))
  w1 = jax.random.normal(k1, (8, 6)) / np.sqrt(8)
  w2 = jax.random.normal(k2, (6, 3))
  return lambda x: jnp.tanh(x @ w1) @ w2  # default precision, as a user's network


@pytest.mark.parametrize("precision, full", [("float32", True), (None, False)])
def test_adversarial_direction_traces_the_callers_network_at_the_chosen_precision(precision, full):
  f = _mlp()
  x = jnp.asarray(np.random.default_rng(6).uniform(size=(4, 8)), jnp.float32)
  p = jax.nn.softmax(f(x))
  fn = functools.partial(reg.adversarial_direction, jax.random.key(1), f, p=p,
                         divergence=reg.kl_divergence, precision=precision)
  total, highest = _dots(lambda x: fn(x), x)
  assert total > 0 and (highest == total if full else highest == 0)


def test_auto_precision_is_unchanged_on_cpu_and_full_elsewhere(monkeypatch):
  adv = reg.adversarial
  assert jax.default_backend() != "cpu" or adv.resolve_precision("auto") is None
  monkeypatch.setattr(adv.jax, "default_backend", lambda: "gpu")
  assert adv.resolve_precision("auto") == "float32"
  assert adv.resolve_precision(None) is None
  with pytest.raises(ValueError, match="precision"):
    adv.resolve_precision("tf32")


@pytest.mark.parametrize("precision", ["float32", None])
def test_adversarial_regularizer_recomputes_the_direction_target_at_full_precision(
    monkeypatch, precision):
  """With a precision, the direction's target is ``softmax(f(x))`` recomputed, not the caller's
  (TF32) logits: a target off by the TF32 rounding biases KL's finite difference."""
  f = _mlp()
  x = jnp.asarray(np.random.default_rng(7).uniform(size=(4, 8)), jnp.float32)
  logits = f(x) + 1e-3 * jnp.asarray(np.random.default_rng(8).normal(size=(4, 3)), jnp.float32)
  seen = {}
  direction = reg.adversarial.adversarial_direction

  def spy(rng, logits_fn, x, p, divergence, **kw):
    seen["p"], seen["precision"] = p, kw["precision"]
    return direction(rng, logits_fn, x, p, divergence, **kw)

  monkeypatch.setattr(reg.adversarial, "adversarial_direction", spy)
  reg.adversarial_regularizer(jax.random.key(2), f, x, logits, reg.kl_divergence,
                              precision=precision)
  want = jax.nn.softmax(f(x) if precision else logits)
  np.testing.assert_allclose(np.asarray(seen["p"]), np.asarray(want), rtol=1e-6, atol=1e-7)
  assert seen["precision"] == precision
