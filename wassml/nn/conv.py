"""A drop-in ``lax.conv_general_dilated`` whose kernel gradient is fast on XLA:CPU.

On XLA:CPU the gradient of a convolution with respect to its kernel (the convolution that
contracts over the batch and the image) is the slowest of its three pieces: for a 3x3 'SAME'
layer of the SmallCNN (batch 128, 14x14, 32 -> 64 channels) it takes about twice the forward pass
or the input gradient (``experiments/bench_train``, row ``conv_layer``, on the project's 2-core
CPU; the figures are in ``experiments/bench_train/results/cpu/README.md``).

The kernel gradient is a sum over the batch and the output pixels,
``dW[i, j, c, o] = sum_{n, h, w} x_pad[n, h + i, w + j, c] * dy[n, h, w, o]``. Written as one
matrix product per kernel offset ``(i, j)`` (a ``[C, N*H*W] @ [N*H*W, O]`` product on a shifted
view of the padded input; for ``C < 8`` one product of the stacked ``[N*H*W, kh*kw*C]`` patches),
it runs on XLA:CPU's matrix-multiply path, faster than ``lax``'s kernel gradient on that layer
(row ``conv_layer``). The forward pass and the input gradient stay ``lax.conv_general_dilated``
and its transpose, so the values are the same convolution up to float summation order.

:func:`conv_general_dilated` takes this path only where it applies and pays: the CPU backend, a
2-D convolution in NHWC / HWIO layout, unit strides and dilations, one feature group. Everything
else (GPU/TPU, where cuDNN's kernels are fast, strides, dilations, other layouts) calls
``lax.conv_general_dilated`` unchanged. It is a ``jax.custom_vjp``: reverse mode (``grad``,
``vjp``, ``vmap`` of either, and reverse over reverse) works; forward mode (``jvp``,
``jacfwd``) does not — build the model with ``conv_impl="lax"`` for that.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["CONV_IMPLS", "Conv", "conv_general_dilated", "conv_for", "kernel_gradient"]

CONV_IMPLS = ("auto", "lax")
_NHWC = ("NHWC", "HWIO", "NHWC")


def _is_unit(values: Any) -> bool:
  return values is None or all(int(v) == 1 for v in values)


def _applies(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation, dimension_numbers,
             feature_group_count, batch_group_count) -> bool:
  if jax.default_backend() != "cpu" or lhs.ndim != 4 or rhs.ndim != 4:
    return False
  if feature_group_count != 1 or batch_group_count != 1:
    return False
  if not (_is_unit(window_strides) and _is_unit(lhs_dilation) and _is_unit(rhs_dilation)):
    return False
  want = lax.conv_dimension_numbers(lhs.shape, rhs.shape, _NHWC)
  got = lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
  return want == got


def conv_general_dilated(lhs, rhs, window_strides: Sequence[int], padding, lhs_dilation=None,
                         rhs_dilation=None, dimension_numbers=None, feature_group_count: int = 1,
                         batch_group_count: int = 1, precision=None, preferred_element_type=None):
  """``lax.conv_general_dilated`` with the matrix-product kernel gradient on XLA:CPU.

  Same signature and value as ``lax.conv_general_dilated``; pass it to ``flax.linen.Conv`` as
  ``conv_general_dilated=``. See the module docstring for when the fast path is taken.
  """
  if preferred_element_type is None and _applies(
      lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation, dimension_numbers,
      feature_group_count, batch_group_count):
    if isinstance(padding, str):  # 'SAME' / 'VALID' as lax resolves them
      padding = lax.padtype_to_pads(lhs.shape[1:3], rhs.shape[:2], (1, 1), padding)
    pads = tuple((int(lo), int(hi)) for lo, hi in padding)
    return _conv_nhwc(pads, precision, lhs, rhs)
  return lax.conv_general_dilated(
      lhs, rhs, window_strides, padding, lhs_dilation=lhs_dilation, rhs_dilation=rhs_dilation,
      dimension_numbers=dimension_numbers, feature_group_count=feature_group_count,
      batch_group_count=batch_group_count, precision=precision,
      preferred_element_type=preferred_element_type)


def Conv(impl: str, *args, **kwargs) -> nn.Conv:  # pylint: disable=invalid-name
  """``flax.linen.Conv(*args, **kwargs)`` with the convolution of ``impl`` (:func:`conv_for`)."""
  return nn.Conv(*args, conv_general_dilated=conv_for(impl), **kwargs)


def conv_for(impl: str):
  """The ``conv_general_dilated`` of a model's ``conv_impl``: ``"auto"`` (this module's) or
  ``"lax"`` (``lax.conv_general_dilated``, forward-mode differentiable).

  Raises:
    ValueError: an unknown ``impl``.
  """
  if impl not in CONV_IMPLS:
    raise ValueError(f"unknown conv_impl {impl!r}; valid: {list(CONV_IMPLS)}")
  return conv_general_dilated if impl == "auto" else lax.conv_general_dilated


def _lax_nhwc(pads, precision, x, w):
  return lax.conv_general_dilated(x, w, (1, 1), pads, dimension_numbers=_NHWC,
                                  precision=precision)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _conv_nhwc(pads, precision, x, w):
  return _lax_nhwc(pads, precision, x, w)


def _conv_fwd(pads, precision, x, w):
  return _lax_nhwc(pads, precision, x, w), (x, w)


def kernel_gradient(pads, precision, x, dy, kernel_hw):
  """``dL/dW [kh, kw, C, O]`` of a unit-stride NHWC convolution from ``x`` and ``dy``."""
  kh, kw = kernel_hw
  (t, b), (l, r) = pads
  xp = jnp.pad(x, ((0, 0), (max(t, 0), max(b, 0)), (max(l, 0), max(r, 0)), (0, 0)))
  xp = xp[:, max(-t, 0):xp.shape[1] - max(-b, 0), max(-l, 0):xp.shape[2] - max(-r, 0)]
  n, ho, wo, o = dy.shape
  c = x.shape[-1]
  d = dy.reshape(n * ho * wo, o)
  views = [[xp[:, i:i + ho, j:j + wo, :].reshape(n * ho * wo, c) for j in range(kw)]
           for i in range(kh)]
  if c < 8:  # few channels: one product of the stacked patches
    cols = jnp.concatenate([v for row in views for v in row], axis=-1)
    return jnp.dot(cols.T, d, precision=precision).reshape(kh, kw, c, o)
  return jnp.stack([jnp.stack([jnp.dot(v.T, d, precision=precision) for v in row])
                    for row in views])


def _conv_bwd(pads, precision, res, dy):
  x, w = res
  dx = jax.linear_transpose(lambda u: _lax_nhwc(pads, precision, u, w), x)(dy)[0]
  dw = kernel_gradient(pads, precision, x, dy, w.shape[:2]).astype(w.dtype)
  return dx, dw


_conv_nhwc.defvjp(_conv_fwd, _conv_bwd)
