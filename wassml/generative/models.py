"""Generator networks for image data."""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax

from wassml import nn as wnn


class ImageGenerator(nn.Module):
  """MLP generator ``z [n, noise_dim] -> x [n, num_outputs]`` with pixels in ``[0, 1]``.

  The hidden layers are :class:`wassml.nn.MLP` (``activation``, ReLU by default; ARWGAN uses a
  leaky ReLU); a sigmoid maps the last linear layer to
  ``[0, 1]``, the range of ``wassml.data`` images. Samples are flat (``[n, H * W * C]``), the
  layout every ``wassml.generative.losses`` loss and the WGAN-GP critic take; reshape them to
  ``[n, H, W, C]`` for plotting or a classifier.

  Attributes:
    num_outputs: ``H * W * C``.
    hidden: hidden widths.
    activation: hidden activation.
  """

  num_outputs: int
  hidden: Sequence[int] = (256, 512)
  activation: Callable[[jax.Array], jax.Array] = nn.relu

  @nn.compact
  def __call__(self, z: jax.Array) -> jax.Array:
    """``z [n, noise_dim]`` -> samples ``[n, num_outputs]`` in ``[0, 1]``."""
    return nn.sigmoid(wnn.MLP(hidden=tuple(self.hidden), num_outputs=self.num_outputs,
                              activation=self.activation)(z))
