"""Text Deconvolution Saliency: against the conv's linear transpose, a brute-force loop, and the
TextCNN end to end; plus precision@k and Pearson against numpy/scipy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from wassml.nn import TextCNN
from wassml.text import (deconv_projection, deconv_saliency, make_saliency_fn, pearson,
                         precision_at_k, text_cnn_saliency)


def _brute_force_projection(h, w):
  """x_hat[b, t + j, e] += sum_f W[j, e, f] h[b, t, f] (VALID conv)."""
  b, lp, _ = h.shape
  k, e, _ = w.shape
  out = np.zeros((b, lp + k - 1, e))
  for i in range(b):
    for t in range(lp):
      for j in range(k):
        out[i, t + j] += w[j] @ h[i, t]
  return out


@pytest.mark.parametrize("padding", ["VALID", "SAME"])
def test_projection_is_the_transpose_of_the_convolution(padding):
  rng = np.random.default_rng(0)
  x = rng.normal(size=(2, 9, 4)).astype(np.float32)
  w = rng.normal(size=(3, 4, 5)).astype(np.float32)

  def conv(v):
    return jax.lax.conv_general_dilated(v, w, (1,), padding,
                                        dimension_numbers=("NWC", "WIO", "NWC"))

  h = rng.normal(size=conv(x).shape).astype(np.float32)
  expect = jax.linear_transpose(conv, x)(h)[0]
  np.testing.assert_allclose(deconv_projection(h, w, padding=padding), expect, atol=1e-5)
  # <conv(x), h> == <x, conv^T(h)>: the adjoint identity.
  np.testing.assert_allclose(jnp.vdot(conv(x), h),
                             jnp.vdot(x, deconv_projection(h, w, padding=padding)), rtol=1e-4)


def test_saliency_matches_brute_force_and_accepts_conv2d_layout():
  rng = np.random.default_rng(1)
  h = rng.random((3, 6, 7)).astype(np.float32)
  w = rng.normal(size=(3, 5, 7)).astype(np.float32)
  expect = _brute_force_projection(h, w).sum(-1)
  np.testing.assert_allclose(deconv_saliency(h, w), expect, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(deconv_saliency(h[:, :, None, :], w[:, :, None, :]), expect,
                             rtol=1e-5, atol=1e-5)
  with pytest.raises(ValueError, match="filters"):
    deconv_saliency(h, w[..., :3])
  with pytest.raises(ValueError, match="kernel must be"):
    deconv_saliency(h, w[0])


def test_text_cnn_saliency_end_to_end_one_jitted_batch():
  model = TextCNN(vocab_size=30, num_classes=3, embed_dim=8, num_filters=6, hidden=5)
  ids = jax.random.randint(jax.random.key(0), (4, 11), 0, 30)
  variables = model.init(jax.random.key(1), ids)
  fn = text_cnn_saliency(model)
  sal, logits = fn(variables, ids)
  assert sal.shape == (4, 11) and logits.shape == (4, 3)
  np.testing.assert_allclose(logits, model.apply(variables, ids), rtol=1e-5, atol=1e-5)
  # Independent recomputation: embeddings -> numpy conv + ReLU -> brute-force deconvolution.
  emb = np.asarray(variables["params"]["embed"]["embedding"])[np.asarray(ids)]
  kern = np.asarray(variables["params"]["conv"]["kernel"])[:, :, 0, :]
  bias = np.asarray(variables["params"]["conv"]["bias"])
  h = np.stack([[np.maximum(np.einsum("je,jef->f", emb[b, t:t + 3], kern) + bias, 0)
                 for t in range(9)] for b in range(4)])
  np.testing.assert_allclose(sal, _brute_force_projection(h, kern).sum(-1), rtol=1e-4,
                             atol=1e-5)
  # Batch call == per-window calls (no mixing across the batch).
  one = jnp.concatenate([fn(variables, ids[i:i + 1])[0] for i in range(4)])
  np.testing.assert_allclose(sal, one, rtol=1e-5, atol=1e-6)
  generic = make_saliency_fn(lambda v, x: (
      model.apply(v, x, return_intermediates=True)[1]["feature_map"],
      TextCNN.kernels(v["params"])))
  np.testing.assert_allclose(generic(variables, ids), sal, rtol=1e-6)


def test_precision_at_k_against_numpy():
  rng = np.random.default_rng(2)
  scores = rng.normal(size=(20, 12))
  rel = rng.random((20, 12)) < 0.25
  rel[:, 0] = True
  mask = np.ones_like(rel)
  mask[:, -2:] = False
  rel[:, -2:] = False
  got = np.asarray(precision_at_k(scores, rel, mask))
  for i in range(20):
    k = rel[i].sum()
    top = np.argsort(-np.where(mask[i], scores[i], -np.inf))[:k]
    assert got[i] == pytest.approx(rel[i, top].mean())
  perfect = np.asarray(precision_at_k(rel.astype(float), rel, mask))
  np.testing.assert_allclose(perfect, 1.0)
  np.testing.assert_allclose(precision_at_k(scores, rel, mask, k=1),
                             rel[np.arange(20), np.argmax(np.where(mask, scores, -9), 1)])


def test_pearson_against_scipy():
  rng = np.random.default_rng(3)
  x, y = rng.normal(size=(2, 5, 10))
  mask = np.ones((5, 10), bool)
  mask[:, 7:] = False
  got = np.asarray(pearson(x, y, mask))
  for i in range(5):
    assert got[i] == pytest.approx(scipy.stats.pearsonr(x[i, :7], y[i, :7])[0], rel=1e-4)
  assert np.isnan(np.asarray(pearson(np.ones((1, 4)), np.arange(4.0)[None])))[0]
