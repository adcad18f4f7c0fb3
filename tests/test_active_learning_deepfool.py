"""DeepFool: closed-form distance on affine classifiers, label flips on a small network."""

import flax.linen
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


# ------------------------------------------------------------------------------------------------
# the compacted, early-stopping batch driver against the fixed-trip masked loop it replaced
# ------------------------------------------------------------------------------------------------
def _reference_deepfool(logits_fn, params, x, max_iters, overshoot, step_eps=1e-4):
  """The original formulation: ``max_iters`` masked steps for every example, full Jacobian each."""
  f_of = lambda z: logits_fn(params, z)  # noqa: E731
  k0 = jnp.argmax(f_of(x))
  num_classes = f_of(x).shape[0]

  def body(_, carry):
    r, active, n = carry
    xi = x + (1.0 + overshoot) * r
    f = f_of(xi)
    jac = jax.jacrev(f_of)(xi).reshape(num_classes, -1)
    w, fp = jac - jac[k0], f - f[k0]
    w_norm = jnp.linalg.norm(w, axis=1) + 1e-12
    dist = jnp.where(jnp.arange(num_classes) == k0, jnp.inf, jnp.abs(fp) / w_norm)
    l = jnp.argmin(dist)
    r_i = ((jnp.abs(fp[l]) + step_eps) / w_norm[l] ** 2) * w[l]
    still = active & (jnp.argmax(f) == k0)
    return jnp.where(still, r + r_i.reshape(x.shape), r), still, n + still.astype(jnp.int32)

  r, _, n = jax.lax.fori_loop(0, max_iters, body, (jnp.zeros_like(x), jnp.array(True), jnp.array(0)))
  adv = x + (1.0 + overshoot) * r
  return {"perturbation": r, "norm": jnp.linalg.norm((adv - x).reshape(-1)), "num_iters": n,
          "original_label": k0, "adversarial_label": jnp.argmax(f_of(adv))}


def _relu_logits(params, x):
  w1, b1, w2, b2 = params
  return jax.nn.relu(x.reshape(-1) @ w1 + b1) @ w2 + b2


def _relu_problem():
  """A ReLU net whose hidden units all die on the inputs with negative entries (a zero Jacobian there)."""
  keys = jax.random.split(jax.random.key(3), 4)
  w1 = jnp.abs(jax.random.normal(keys[0], (6, 12)))
  params = (w1, jnp.zeros(12), jax.random.normal(keys[1], (12, 4)), jax.random.normal(keys[2], (4,)))
  x = jax.random.uniform(keys[3], (40, 2, 3), minval=0.05, maxval=1.0)
  x = x.at[:5].set(-x[:5])  # dead: logits = b2 whatever the step, the attack cannot move
  return params, x


@pytest.mark.parametrize("net", ["tanh", "relu"])
@pytest.mark.parametrize("overshoot", [0.0, 0.02])
def test_deepfool_batch_matches_the_fixed_trip_reference(net, overshoot):
  if net == "tanh":
    keys = jax.random.split(jax.random.key(0), 3)
    params = (jax.random.normal(keys[0], (6, 16)), jnp.zeros(16), jax.random.normal(keys[1], (16, 4)), jnp.zeros(4))
    xs, fn = jax.random.normal(keys[2], (40, 2, 3)), _mlp_logits
  else:
    (params, xs), fn = _relu_problem(), _relu_logits
  ref = jax.vmap(lambda z: _reference_deepfool(fn, params, z, 10, overshoot))(xs)
  for res in (deepfool.deepfool_batch(fn, params, xs, max_iters=10, overshoot=overshoot, chunk_size=16),
              jax.vmap(lambda z: deepfool.deepfool(fn, params, z, max_iters=10, overshoot=overshoot))(xs)):
    for name in ("num_iters", "original_label", "adversarial_label"):
      np.testing.assert_array_equal(np.asarray(getattr(res, name)), np.asarray(ref[name]), err_msg=name)
    np.testing.assert_allclose(np.asarray(res.norm), np.asarray(ref["norm"]), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(res.perturbation), np.asarray(ref["perturbation"]), rtol=1e-4, atol=1e-5)
  if net == "relu":  # the dead inputs: a fixed point, reported as max_iters steps without a flip
    np.testing.assert_array_equal(np.asarray(ref["num_iters"])[:5], 10)
    assert not bool(jnp.any(res.flipped[:5])) and bool(jnp.all(res.norm[:5] == 0))
    assert bool(jnp.all(res.num_iters[5:] < 10))  # the live ones flipped early


def test_deepfool_batch_padded_chunks_equal_unpadded():
  params, xs = _relu_problem()
  xs = xs[5:]  # 35 live examples
  whole = deepfool.deepfool_batch(_relu_logits, params, xs, chunk_size=35)  # one chunk, no padding
  for cs in (8, 16, 64):  # 35 = 4 x 8 + 3, 2 x 16 + 3, one chunk padded to 64
    padded = deepfool.deepfool_batch(_relu_logits, params, xs, chunk_size=cs)
    for name in ("num_iters", "original_label", "adversarial_label", "flipped"):
      np.testing.assert_array_equal(np.asarray(getattr(padded, name)), np.asarray(getattr(whole, name)))
    np.testing.assert_allclose(np.asarray(padded.perturbation), np.asarray(whole.perturbation), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(padded.norm), np.asarray(whole.norm), rtol=1e-5, atol=1e-6)
  # a subset gives the same per-example answers (examples do not interact)
  part = deepfool.deepfool_batch(_relu_logits, params, xs[3:10], chunk_size=16)
  np.testing.assert_allclose(np.asarray(part.norm), np.asarray(whole.norm)[3:10], rtol=1e-5, atol=1e-6)


def test_deepfool_rejects_bad_settings():
  with pytest.raises(ValueError, match="max_iters"):
    deepfool.deepfool_batch(_linear_logits, (jnp.eye(2, 3), jnp.zeros(2)), jnp.ones((4, 3)), max_iters=0)
  with pytest.raises(ValueError, match="chunk_size"):
    deepfool.deepfool_batch(_linear_logits, (jnp.eye(2, 3), jnp.zeros(2)), jnp.ones((4, 3)), chunk_size=0)
  with pytest.raises(ValueError, match=r"\[n >= 1"):
    deepfool.deepfool_batch(_linear_logits, (jnp.eye(2, 3), jnp.zeros(2)), jnp.ones((0, 3)))


# ------------------------------------------------------------------------------------------------
# DFAL reuses the compiled attack across rounds: new weights, another candidate count
# ------------------------------------------------------------------------------------------------
_TRACES = []


class _CountingNet(flax.linen.Module):
  """A tiny classifier that records every time it is traced (a Python side effect)."""

  @flax.linen.compact
  def __call__(self, x, train: bool = False):
    _TRACES.append(x.shape)
    h = flax.linen.relu(flax.linen.Dense(8)(x.reshape(x.shape[0], -1)))
    return flax.linen.Dense(3)(h)


def test_second_dfal_query_with_new_weights_does_not_retrace():
  from wassml.active_learning import Classifier, QueryContext, select

  xs = np.asarray(jax.random.normal(jax.random.key(0), (60, 2, 2)))
  def query(seed, num_candidates):
    module = _CountingNet()  # a new but equal module each round, as a re-built model would be
    variables = module.init(jax.random.key(seed), xs[:1])
    ctx = QueryContext(x=xs, labelled=np.arange(5), y_labelled=np.zeros(5, np.int32),
                       candidates=np.arange(5, 5 + num_candidates), classifier=Classifier(module, variables))
    before = len(_TRACES)  # (init traced the module too)
    return select(jax.random.key(seed), "dfal", ctx, 4, chunk_size=16), len(_TRACES) - before

  _, first_traces = query(1, 40)
  programs = deepfool._advance_chunk._cache_size()
  q, traces = query(2, 27)  # new weights, another number of candidates
  assert first_traces > 0  # the counter sees tracing
  assert traces == 0, "the DeepFool step was traced again for new weights"
  assert deepfool._advance_chunk._cache_size() == programs
  assert len(np.unique(q.indices)) == 4 and q.adversarial_x.shape == (4, 2, 2)
