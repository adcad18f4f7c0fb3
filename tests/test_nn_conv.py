"""wassml.nn.conv: the CPU convolution with a matrix-product kernel gradient equals lax's."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax import lax

from wassml import nn as wnn
from wassml import train as wtrain
from wassml.nn import conv as wconv

DN = ("NHWC", "HWIO", "NHWC")


def _loss(conv_fn, pads, strides=(1, 1), **kw):
  def f(x, w):
    return jnp.sum(jnp.sin(conv_fn(x, w, strides, pads, dimension_numbers=DN, **kw)))
  return f


def _assert_grads_equal(f_fast, f_ref, x, w, tol=2e-5):
  got = jax.grad(f_fast, (0, 1))(x, w)
  want = jax.grad(f_ref, (0, 1))(x, w)
  np.testing.assert_allclose(f_fast(x, w), f_ref(x, w), rtol=tol, atol=tol)
  for g, r in zip(got, want):
    scale = float(jnp.max(jnp.abs(r)))
    np.testing.assert_allclose(g, r, rtol=tol, atol=tol * scale)


@pytest.mark.parametrize("shape,kernel,pads", [
    ((3, 9, 9, 1), (3, 3), "SAME"),            # few channels: the stacked-patches product
    ((2, 8, 7, 12), (3, 3), ((1, 1), (1, 1))),  # one product per kernel offset
    ((2, 10, 10, 5), (5, 5), "VALID"),
    ((2, 6, 6, 9), (3, 2), ((2, 0), (1, -1))),  # asymmetric and negative (cropping) padding
    ((2, 7, 7, 16), (1, 1), ((0, 0), (0, 0))),
])
def test_fast_path_values_and_gradients_equal_lax(shape, kernel, pads):
  x = jax.random.normal(jax.random.key(0), shape)
  w = jax.random.normal(jax.random.key(1), kernel + (shape[-1], 4))
  fast, ref = _loss(wconv.conv_general_dilated, pads), _loss(lax.conv_general_dilated, pads)
  assert "custom_vjp" in str(jax.make_jaxpr(fast)(x, w))  # the fast path was taken
  _assert_grads_equal(fast, ref, x, w)
  _assert_grads_equal(jax.jit(fast), ref, x, w)


@pytest.mark.parametrize("kw", [dict(strides=(2, 2)), dict(rhs_dilation=(2, 2)),
                                dict(feature_group_count=2)])
def test_other_convolutions_are_lax_unchanged(kw):
  x = jax.random.normal(jax.random.key(0), (2, 9, 9, 4))
  groups = kw.get("feature_group_count", 1)
  w = jax.random.normal(jax.random.key(1), (3, 3, 4 // groups, 6))
  strides = kw.pop("strides", (1, 1))
  fast = _loss(wconv.conv_general_dilated, "SAME", strides, **kw)
  ref = _loss(lax.conv_general_dilated, "SAME", strides, **kw)
  assert "custom_vjp" not in str(jax.make_jaxpr(fast)(x, w))
  _assert_grads_equal(fast, ref, x, w, tol=1e-6)


def test_vmap_over_per_seed_kernels_and_reverse_over_reverse():
  x = jax.random.normal(jax.random.key(0), (3, 2, 8, 8, 6))
  w = jax.random.normal(jax.random.key(1), (3, 3, 3, 6, 5))
  fast, ref = _loss(wconv.conv_general_dilated, "SAME"), _loss(lax.conv_general_dilated, "SAME")
  for g, r in zip(jax.vmap(jax.grad(fast, (0, 1)))(x, w), jax.vmap(jax.grad(ref, (0, 1)))(x, w)):
    np.testing.assert_allclose(g, r, rtol=2e-5, atol=2e-5 * float(jnp.max(jnp.abs(r))))

  # VAT's shape: the gradient with respect to the input, inside a gradient with respect to w.
  def outer(conv_fn):
    f = _loss(conv_fn, "SAME")
    return lambda w, x: jnp.sum(jax.grad(f)(x, w) ** 2)

  got = jax.grad(outer(wconv.conv_general_dilated))(w[0], x[0])
  want = jax.grad(outer(lax.conv_general_dilated))(w[0], x[0])
  np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5 * float(jnp.max(jnp.abs(want))))


def test_models_train_the_same_with_either_impl_and_lax_allows_jvp():
  x = jax.random.uniform(jax.random.key(0), (16, 28, 28, 1))
  y = jnp.arange(16) % 10
  states = {}
  for impl in ("auto", "lax"):
    model = wnn.SmallCNN(num_classes=10, conv_impl=impl)
    st = wtrain.create_train_state(jax.random.key(1), model, x[:1], optax.adam(1e-3))
    step = jax.jit(wtrain.make_step(wtrain.classifier_loss(st)))
    for i in range(3):
      st, _ = step(st, {"x": x, "y": y}, jax.random.key(i))
    states[impl] = st
  jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5),
                         states["auto"].params, states["lax"].params)
  lax_model = wnn.SmallCNN(num_classes=10, conv_impl="lax")
  params = states["lax"].params
  _, tangent = jax.jvp(lambda u: lax_model.apply({"params": params}, u), (x,), (x,))
  assert np.all(np.isfinite(tangent))
  with pytest.raises(ValueError, match="conv_impl"):
    wnn.SmallCNN(conv_impl="eigen").init(jax.random.key(0), x[:1])
