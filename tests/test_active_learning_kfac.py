"""KFAC factors against the dense Fisher of tiny networks (brute force with jax.jacrev)."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wassml.active_learning import kfac


class TinyMLP(nn.Module):
  @nn.compact
  def __call__(self, x, train: bool = False):
    x = x.reshape(x.shape[0], -1)
    x = nn.tanh(nn.Dense(5)(x))
    return nn.Dense(3)(x)


class TinyConv(nn.Module):
  """A conv whose output has ONE location (T = 1), so KFC is exact, then a dense layer."""

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = nn.relu(nn.Conv(4, (3, 3), padding="VALID")(x))
    x = x.reshape(x.shape[0], -1)
    return nn.Dense(3)(x)


def _dense_fisher_blocks(model, variables, x):
  """Per-example exact Fisher sum_k p_k grad log p_k grad log p_k^T, one block per layer."""
  params = variables["params"]

  def logp(p, xi):
    return jax.nn.log_softmax(model.apply({"params": p}, xi[None])[0])

  blocks = {}
  for i in range(x.shape[0]):
    jac = jax.jacrev(logp)(params, x[i])  # leaves [K, *param_shape]
    probs = np.exp(np.asarray(logp(params, x[i])))
    for layer, leaves in jac.items():
      k = np.asarray(leaves["kernel"])
      if k.ndim == 5:  # conv kernel [K, kh, kw, C, O] -> patch order (C, kh, kw)
        k = np.transpose(k, (0, 3, 1, 2, 4))
      flat = np.concatenate([k.reshape(k.shape[0], -1), np.asarray(leaves["bias"]).reshape(k.shape[0], -1)], axis=1)
      blocks.setdefault(layer, []).append(np.einsum("k,ki,kj->ij", probs, flat, flat))
  return {k: np.stack(v) for k, v in blocks.items()}


@pytest.mark.parametrize("model_cls,shape", [(TinyMLP, (4,)), (TinyConv, (3, 3, 2))])
def test_kfac_per_example_equals_dense_fisher(model_cls, shape):
  model = model_cls()
  x = jax.random.normal(jax.random.key(1), (3, *shape))
  variables = model.init(jax.random.key(0), x)
  stats = kfac.layer_stats(functools.partial(model.apply), variables, x)
  dense = _dense_fisher_blocks(model, variables, x)
  assert [s.name for s in stats] == list(dense)
  for s in stats:
    psi, tau = kfac.per_example_factors(s)
    for i in range(x.shape[0]):
      kron = np.kron(np.asarray(psi[i]), np.asarray(tau[i]))
      np.testing.assert_allclose(kron, dense[s.name][i], rtol=1e-4, atol=1e-6)
      # the trace identity: Tr(psi ⊗ tau) = Tr(psi) Tr(tau) = Tr(dense Fisher block)
      np.testing.assert_allclose(
          float(jnp.trace(psi[i]) * jnp.trace(tau[i])), np.trace(dense[s.name][i]), rtol=1e-4)


def test_kfac_trace_equals_dense_fisher_trace_single_example():
  model = TinyMLP()
  x = jax.random.normal(jax.random.key(2), (1, 4))
  variables = model.init(jax.random.key(0), x)
  stats = kfac.layer_stats(model.apply, variables, x)
  dense = _dense_fisher_blocks(model, variables, x)
  kfac_trace = sum(float(jnp.trace(p) * jnp.trace(t)) for p, t in (kfac.kfac_factors(s) for s in stats))
  dense_trace = sum(np.trace(b[0]) for b in dense.values())
  np.testing.assert_allclose(kfac_trace, dense_trace, rtol=1e-5)


def test_trace_ratio_matches_dense_kronecker_and_per_example_traces():
  model = TinyMLP()
  x = jax.random.normal(jax.random.key(3), (12, 4))
  variables = model.init(jax.random.key(0), x)
  stats_a = kfac.layer_stats(model.apply, variables, x[:8])
  stats_b = kfac.layer_stats(model.apply, variables, x[8:])
  stats_ab = kfac.layer_stats(model.apply, variables, x)
  fa = [kfac.kfac_factors(s) for s in stats_a]
  fab = [kfac.kfac_factors(s) for s in stats_ab]
  got = float(kfac.trace_ratio(fab, fa, damping=1e-3))
  # dense: Tr(kron(P_ab, T_ab) @ inv(kron(P_a + l I, T_a + l' I)))
  want = 0.0
  for (pab, tab), (pa, ta) in zip(fab, fa):
    pa_d = np.asarray(pa) + 1e-3 * np.trace(pa) / pa.shape[0] * np.eye(pa.shape[0])
    ta_d = np.asarray(ta) + 1e-3 * np.trace(ta) / ta.shape[0] * np.eye(ta.shape[0])
    want += np.trace(np.kron(np.asarray(pab), np.asarray(tab)) @ np.linalg.inv(np.kron(pa_d, ta_d)))
  np.testing.assert_allclose(got, want, rtol=1e-3)
  # per-example quadratic forms = traces of the materialised per-example factors
  for s, (pa, ta) in zip(stats_b, fa):
    pinv, tinv = kfac.damped_inverse(pa), kfac.damped_inverse(ta)
    sp, st = kfac.per_example_traces(s, pinv, tinv)
    psi_i, tau_i = kfac.per_example_factors(s)
    np.testing.assert_allclose(sp, jnp.einsum("nij,ji->n", psi_i, pinv), rtol=1e-4)
    np.testing.assert_allclose(st, jnp.einsum("nij,ji->n", tau_i, tinv), rtol=1e-4)


def test_kfac_conv_many_locations_shapes():
  class C(nn.Module):
    @nn.compact
    def __call__(self, x):
      x = nn.relu(nn.Conv(3, (3, 3), padding="SAME")(x))
      return nn.Dense(2)(x.reshape(x.shape[0], -1))

  model = C()
  x = jax.random.normal(jax.random.key(0), (2, 5, 5, 1))
  v = model.init(jax.random.key(1), x)
  stats = kfac.layer_stats(model.apply, v, x)
  assert stats[0].kind == "conv" and stats[0].a.shape == (2, 25, 10) and stats[0].g.shape == (2, 2, 25, 3)
  psi, tau = kfac.kfac_factors(stats[0])
  assert psi.shape == (10, 10) and tau.shape == (3, 3)
  assert np.all(np.linalg.eigvalsh(np.asarray(psi)) > -1e-5)


def test_kfac_no_layers_is_an_error():
  with pytest.raises(ValueError, match="no nn.Dense"):
    kfac.layer_stats(lambda v, x: x, {}, jnp.ones((2, 3)))
