"""TextCNN's full-width convolution, computed as a 1-D conv, equals the thesis's Conv2D layout."""

import flax.linen as nn
import jax
import numpy as np

from wassml.nn import TextCNN
from wassml.nn.text import FullWidthConv


def test_full_width_conv_equals_conv2d_on_one_channel_image():
  emb = jax.random.normal(jax.random.key(0), (4, 11, 16))
  conv1d = FullWidthConv(features=12, kernel_width=3)
  variables = conv1d.init(jax.random.key(1), emb)
  conv2d = nn.Conv(12, (3, 16), padding="VALID")  # Keras-style Conv2D over [L, E, 1]
  ref = conv2d.apply(variables, emb[..., None])[:, :, 0, :]
  np.testing.assert_allclose(conv1d.apply(variables, emb), ref, rtol=1e-4, atol=1e-5)


def test_text_cnn_keeps_the_conv2d_parameter_shapes():
  model = TextCNN(vocab_size=40, num_classes=3, embed_dim=16, num_filters=12, hidden=7)
  params = model.init(jax.random.key(1), jax.numpy.zeros((2, 9), int))["params"]
  assert params["conv"]["kernel"].shape == (3, 16, 1, 12)
  assert TextCNN.kernels(params).shape == (3, 16, 12)
