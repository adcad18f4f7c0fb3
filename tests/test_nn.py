"""Tests for wassml.nn: shapes, parameter counts against the papers' tables, features, batch
norm / dropout plumbing, and the text CNN's feature map against a numpy convolution."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wassml import nn as wnn


def _count(params):
  return sum(int(np.prod(p.shape)) for p in jax.tree_util.tree_leaves(params))


def _init(model, x, **kw):
  return model.init({"params": jax.random.key(0), "dropout": jax.random.key(1)}, x, train=False,
                    **kw)


def test_lenet5_matches_table_a2():
  x = jnp.zeros((2, 28, 28, 1))
  v = _init(wnn.LeNet5(), x)
  # Table A.2 with 'valid' convs: conv6 5x5, conv120 3x3 on 12x12x6 -> 5x5x120 after pooling.
  expected = (25 * 6 + 6) + (9 * 6 * 120 + 120) + (3000 * 84 + 84) + (84 * 10 + 10) + (10 * 10
                                                                                     + 10)
  assert _count(v["params"]) == expected
  logits, feats = wnn.LeNet5().apply(v, x, return_features=True)
  assert logits.shape == (2, 10) and feats.shape == (2, 10)


def test_vgg8_matches_table_a3():
  x = jnp.zeros((1, 28, 28, 1))
  shapes = jax.eval_shape(lambda: _init(wnn.VGG8(), x))
  c = [1, 64, 120, 128, 256, 256]
  convs = sum(9 * a * b + b for a, b in zip(c[:-1], c[1:]))
  # 28 -pad,conv-> 28 -pool-> 14 -conv valid-> 12 -(pad,conv)x3-> 12 -pool-> 6.
  dense = (6 * 6 * 256 * 4096 + 4096) + (4096 * 10 + 10)
  assert _count(shapes["params"]) == convs + dense
  small = wnn.VGG8(widths=(4, 4, 4, 4, 4), dense=16)
  v = _init(small, x)
  logits, feats = small.apply(v, x, return_features=True)
  assert logits.shape == (1, 10) and feats.shape == (1, 16)


def test_digits_cnn_batch_norm_and_features():
  model = wnn.DigitsCNN(widths=(4, 8, 8), feature_dim=16)
  x = jax.random.normal(jax.random.key(2), (3, 32, 32, 3))
  v = _init(model, x)
  assert "batch_stats" in v and v["params"]["features"]["kernel"].shape == (4 * 4 * 8, 16)
  (logits, feats), upd = model.apply(v, x, train=True, return_features=True,
                                     mutable=["batch_stats"])
  assert logits.shape == (3, 10) and feats.shape == (3, 16)
  assert ((feats > 0) & (feats < 1)).all()  # sigmoid features, as in the JUMBOT code
  old = jax.tree_util.tree_leaves(v["batch_stats"])
  new = jax.tree_util.tree_leaves(upd["batch_stats"])
  assert any(not np.allclose(a, b) for a, b in zip(old, new))
  # Eval mode uses the running averages: deterministic and independent of the batch.
  a = model.apply(v, x)
  b = model.apply(v, x[:1])
  np.testing.assert_allclose(a[:1], b, rtol=1e-5, atol=1e-5)


def test_small_cnn_dropout_uses_the_dropout_rng():
  model = wnn.SmallCNN(dropout_rate=0.5, widths=(4, 8), feature_dim=64)
  x = jax.random.uniform(jax.random.key(5), (2, 28, 28, 1))
  v = _init(model, x)
  f = lambda k: model.apply(v, x, train=True, rngs={"dropout": jax.random.key(k)})  # noqa
  assert not np.allclose(f(0), f(1))
  np.testing.assert_array_equal(f(3), f(3))
  np.testing.assert_array_equal(model.apply(v, x), model.apply(v, x))
  bn = wnn.SmallCNN(use_batchnorm=True, widths=(4, 8), feature_dim=8)
  assert "batch_stats" in _init(bn, x)


def test_mlp_and_autoencoder_sizes():
  ae = wnn.AutoEncoder(input_dim=784, latent_dim=10)
  x = jnp.zeros((2, 28, 28, 1))
  v = _init(ae, x)
  dims = [784, 500, 500, 2000, 10]
  enc = sum(a * b + b for a, b in zip(dims[:-1], dims[1:]))
  dec = sum(a * b + b for a, b in zip(dims[::-1][:-1], dims[::-1][1:]))
  assert _count(v["params"]) == enc + dec
  z, rec = ae.apply(v, x)
  assert z.shape == (2, 10) and rec.shape == (2, 784)
  np.testing.assert_allclose(ae.apply(v, x, method=wnn.AutoEncoder.encode), z)
  np.testing.assert_allclose(ae.apply(v, z, method=wnn.AutoEncoder.decode), rec)
  with pytest.raises(ValueError, match="784 input features"):
    ae.apply(v, jnp.zeros((2, 10)))
  mlp = wnn.MLP(hidden=(7, 5), num_outputs=3, use_batchnorm=True, dropout_rate=0.1)
  vm = _init(mlp, jnp.zeros((4, 2)))
  out, feats = mlp.apply(vm, jnp.zeros((4, 2)), return_features=True)
  assert out.shape == (4, 3) and feats.shape == (4, 5)


def test_critic_outputs_one_score_per_example():
  c = wnn.Critic(hidden=(8, 8))
  x = jnp.ones((5, 3, 2))
  v = _init(c, x)
  assert c.apply(v, x).shape == (5,) and "batch_stats" not in v


def test_dwe_encoder_decoder():
  enc, dec = wnn.DWEEncoder(), wnn.DWEDecoder()
  x = jax.random.uniform(jax.random.key(0), (3, 28, 28, 1))
  ve = _init(enc, x)
  z = enc.apply(ve, x)
  assert z.shape == (3, 50)
  assert ve["params"]["Conv_0"]["kernel"].shape == (3, 3, 1, 20)
  assert ve["params"]["Conv_1"]["kernel"].shape == (5, 5, 20, 5)
  vd = _init(dec, z)
  out = dec.apply(vd, z)
  assert out.shape == (3, 28, 28, 1) and (out > 0).all()
  np.testing.assert_allclose(out.sum((1, 2, 3)), 1.0, rtol=1e-5)


def test_text_cnn_feature_map_is_the_convolution():
  model = wnn.TextCNN(vocab_size=30, embed_dim=6, num_filters=4, hidden=5)
  ids = jax.random.randint(jax.random.key(0), (2, 9), 0, 30)
  v = _init(model, ids)
  logits, inter = model.apply(v, ids, return_intermediates=True)
  assert logits.shape == (2, 2) and inter["feature_map"].shape == (2, 7, 4)
  kern = np.asarray(wnn.TextCNN.kernels(v["params"]))  # [3, E, F]
  assert kern.shape == (3, 6, 4)
  emb = np.asarray(v["params"]["embed"]["embedding"])[np.asarray(ids)]  # [B, L, E]
  bias = np.asarray(v["params"]["conv"]["bias"])
  manual = np.stack([np.einsum("ble,lef->bf", emb[:, t:t + 3], kern) for t in range(7)], 1)
  np.testing.assert_allclose(inter["feature_map"], np.maximum(manual + bias, 0), rtol=1e-5,
                             atol=1e-5)
  np.testing.assert_allclose(inter["embeddings"], emb, rtol=1e-6)
  _, feats = model.apply(v, ids, return_features=True)
  assert feats.shape == (2, 5)
  with pytest.raises(ValueError, match="token ids"):
    model.apply(v, jnp.zeros((2, 9, 1), jnp.int32))


@pytest.mark.parametrize("shape", [(3, 8, 8, 4), (2, 7, 9, 3)])
def test_pool_equals_flax_max_pool_forward_and_gradient(shape):
  """The reshape-max pooling of the CNNs is nn.max_pool(2x2, stride 2, VALID), values and grads."""
  import flax.linen as nn
  from wassml.nn import cnn
  x = jax.random.normal(jax.random.key(0), shape)  # continuous: no ties
  ref = lambda z: nn.max_pool(z, (2, 2), strides=(2, 2))
  np.testing.assert_array_equal(cnn._pool(x), ref(x))
  w = jax.random.normal(jax.random.key(1), ref(x).shape)
  g = jax.grad(lambda z: jnp.sum(w * cnn._pool(z)))(x)
  g_ref = jax.grad(lambda z: jnp.sum(w * ref(z)))(x)
  np.testing.assert_allclose(g, g_ref, atol=1e-6)
