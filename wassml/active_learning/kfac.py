"""KFAC Fisher factors of a Flax linen classifier (Martens & Grosse 2015; Grosse & Martens 2016).

The Fisher information of a layer with weights ``W: [d_in (+1 bias), d_out]`` is approximated by a
Kronecker product ``psi ⊗ tau`` of

* ``psi = E[a a^T]``: the second moment of the layer's (homogeneous, bias-augmented) input ``a``;
* ``tau = E_y~p(y|x)[g g^T]``: the second moment of the gradient ``g`` of ``log p(y|x)`` with
  respect to the layer's pre-activation output, ``y`` drawn from the model's own predictive
  distribution (the "true" Fisher, computed exactly as a sum over the ``K`` classes).

For a ``nn.Dense`` layer and ONE example this is exact: the per-example Fisher block equals
``psi_i ⊗ tau_i`` (the tests check it against the dense Fisher). Convolutions follow KFC (Grosse &
Martens 2016): ``psi_i = sum_t a_t a_t^T`` over spatial locations ``t`` of the input patches and
``tau_i = (1/T) sum_t g_t g_t^T``.

Layers are found without changing the model: every ``nn.Dense`` / ``nn.Conv`` call is intercepted
(``flax.linen.intercept_methods``), its input recorded and a zero "tap" added to its output, whose
gradient is the pre-activation gradient. BalNet (Ducoffe thesis ch. 5) uses the factors through
:func:`trace_ratio` and :func:`per_example_traces`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from wassml.utils import linalg

__all__ = [
    "LayerStats",
    "layer_stats",
    "kfac_factors",
    "per_example_factors",
    "per_example_traces",
    "trace_ratio",
    "damped_inverse",
]

_SUPPORTED = (nn.Dense, nn.Conv)


@dataclasses.dataclass
class LayerStats:
  """Per-example statistics of one layer.

  Attributes:
    name: the layer's module path, e.g. ``"Dense_0"``.
    kind: ``"dense"`` or ``"conv"``.
    a: ``[n, T, d_in + 1]`` homogeneous inputs (patches for a conv, ``T`` locations; ``T = 1``
      for a dense layer applied to vectors).
    g: ``[n, K, T, d_out]`` gradients of ``log p(k|x)`` w.r.t. the pre-activation, per class ``k``.
    probs: ``[n, K]`` predictive probabilities used to weight the classes.
  """

  name: str
  kind: str
  a: jax.Array
  g: jax.Array
  probs: jax.Array


def _path(module: nn.Module) -> str:
  return "/".join(str(p) for p in module.scope.path)


def _patches(module: nn.Conv, x: jax.Array) -> jax.Array:
  """im2col patches of a conv input ``x: [n, H, W, C]`` -> ``[n, T, C * kh * kw]``."""
  ks = tuple(module.kernel_size)
  strides = module.strides or (1,) * len(ks)
  if isinstance(strides, int):
    strides = (strides,) * len(ks)
  padding = module.padding
  if isinstance(padding, str):
    pad = padding.upper()
    if pad not in ("SAME", "VALID"):
      raise ValueError(f"kfac: conv padding {padding!r} is not supported (use SAME, VALID or ints)")
  elif isinstance(padding, int):
    pad = [(padding, padding)] * len(ks)
  else:
    pad = [(p, p) if isinstance(p, int) else tuple(p) for p in padding]
  if module.feature_group_count != 1 or (module.kernel_dilation not in (None, 1) and set(np.atleast_1d(module.kernel_dilation)) != {1}):
    raise ValueError("kfac: grouped or dilated convolutions are not supported")
  p = jax.lax.conv_general_dilated_patches(
      x, filter_shape=ks, window_strides=tuple(strides), padding=pad,
      dimension_numbers=("NHWC", "HWIO", "NHWC"))
  return p.reshape(p.shape[0], -1, p.shape[-1])


def layer_stats(
    apply_fn: Callable[..., jax.Array],
    variables: Mapping[str, Any],
    x: ArrayLike,
    *,
    layers: tuple[str, ...] | None = None,
) -> list[LayerStats]:
  """Per-example KFAC statistics of every ``nn.Dense``/``nn.Conv`` layer of a classifier.

  Args:
    apply_fn: ``apply_fn(variables, x) -> logits [n, K]`` in evaluation mode (e.g.
      ``functools.partial(model.apply, train=False)``). Examples must be independent (no batch
      statistics in this mode).
    variables: the model variables (``{"params": ...}``).
    x: ``[n, *input_shape]`` inputs.
    layers: keep only these layer paths (default: all).

  Returns:
    One :class:`LayerStats` per intercepted layer, in call order.
  """
  x = jnp.asarray(x, jnp.float32)
  records: dict[str, dict[str, Any]] = {}

  def make_interceptor(taps):
    def interceptor(next_fun, args, kwargs, context):
      mod = context.module
      if context.method_name != "__call__" or not isinstance(mod, _SUPPORTED):
        return next_fun(*args, **kwargs)
      name = _path(mod)
      inp = args[0]
      out = next_fun(*args, **kwargs)
      records[name] = {"module": mod, "input": inp, "out_shape": out.shape}
      if taps is not None:
        out = out + taps[name]
      return out
    return interceptor

  with nn.intercept_methods(make_interceptor(None)):
    jax.eval_shape(lambda v, z: apply_fn(v, z), variables, x)
  names = [n for n in records if layers is None or n in layers]
  if not names:
    raise ValueError("kfac.layer_stats: the model has no nn.Dense or nn.Conv layer to factor")
  shapes = {n: records[n]["out_shape"] for n in records}

  def forward(taps):
    with nn.intercept_methods(make_interceptor(taps)):
      logits = apply_fn(variables, x)
    inputs = {n: records[n]["input"] for n in records}
    return jax.nn.log_softmax(logits, axis=-1), inputs

  zero_taps = {n: jnp.zeros(s, jnp.float32) for n, s in shapes.items()}
  (logp, inputs), vjp = jax.vjp(lambda t: forward(t), zero_taps)
  num_classes = logp.shape[-1]

  def grads_for_class(k):
    ct = jnp.zeros_like(logp).at[:, k].set(1.0)
    zero_in = jax.tree.map(jnp.zeros_like, inputs)
    return vjp((ct, zero_in))[0]

  per_class = jax.lax.map(grads_for_class, jnp.arange(num_classes))  # name -> [K, n, ...]
  probs = jnp.exp(logp)
  out = []
  for name in names:
    mod = records[name]["module"]
    inp = jnp.asarray(inputs[name])
    n = inp.shape[0]
    if isinstance(mod, nn.Conv):
      kind = "conv"
      a = _patches(mod, inp)
    else:
      kind = "dense"
      a = inp.reshape(n, -1, inp.shape[-1])
    a = jnp.concatenate([a, jnp.ones(a.shape[:-1] + (1,), a.dtype)], axis=-1) if mod.use_bias else a
    g = per_class[name]  # [K, n, ..., d_out]
    g = jnp.moveaxis(g, 0, 1).reshape(n, num_classes, -1, g.shape[-1])
    out.append(LayerStats(name=name, kind=kind, a=a, g=g, probs=probs))
  return out


def per_example_factors(stats: LayerStats) -> tuple[jax.Array, jax.Array]:
  """Per-example Kronecker factors ``psi_i: [n, d_in+1, d_in+1]`` and ``tau_i: [n, d_out, d_out]``.

  Dense: exact per-example Fisher block ``psi_i ⊗ tau_i``. Conv: the KFC approximation.
  Use only for small layers (it materialises ``n`` matrices); BalNet uses
  :func:`per_example_traces` instead.
  """
  t = stats.a.shape[1]
  psi = linalg.einsum("nti,ntj->nij", stats.a, stats.a)
  tau = linalg.einsum("nk,nkti,nktj->nij", stats.probs, stats.g, stats.g) / t
  return psi, tau


def kfac_factors(stats: LayerStats, weights: ArrayLike | None = None) -> tuple[jax.Array, jax.Array]:
  """KFAC factors of a set: ``psi = mean_i psi_i`` ``[d_in+1, d_in+1]``, ``tau = mean_i tau_i``.

  Args:
    stats: per-example statistics of one layer over the set.
    weights: optional ``[n]`` non-negative example weights (default uniform); normalised to 1.
  """
  n, t = stats.a.shape[:2]
  w = jnp.full((n,), 1.0 / n) if weights is None else jnp.asarray(weights, jnp.float32) / jnp.sum(weights)
  psi = linalg.einsum("n,nti,ntj->ij", w, stats.a, stats.a)
  tau = linalg.einsum("n,nk,nkti,nktj->ij", w, stats.probs, stats.g, stats.g) / t
  return psi, tau


def damped_inverse(m: ArrayLike, damping: float = 1e-3) -> jax.Array:
  """``(m + lambda I)^-1`` with ``lambda = damping * max(Tr(m)/d, 1e-8)`` (symmetric ``[d, d]``)."""
  m = jnp.asarray(m)
  d = m.shape[0]
  lam = damping * jnp.maximum(jnp.trace(m) / d, 1e-8)
  return jnp.linalg.inv(m + lam * jnp.eye(d, dtype=m.dtype))


def per_example_traces(stats: LayerStats, psi_inv: ArrayLike, tau_inv: ArrayLike) -> tuple[jax.Array, jax.Array]:
  """``Tr(psi_i psi_A^-1)`` and ``Tr(tau_i tau_A^-1)`` for every example ``i`` (each ``[n]``).

  Computed as quadratic forms (``a^T psi_A^-1 a`` summed over locations), never materialising the
  per-example factors.
  """
  t = stats.a.shape[1]
  s_psi = linalg.einsum("nti,ij,ntj->n", stats.a, psi_inv, stats.a)
  s_tau = linalg.einsum("nk,nkti,ij,nktj->n", stats.probs, stats.g, tau_inv, stats.g) / t
  return s_psi, s_tau


def trace_ratio(
    factors_ab: list[tuple[jax.Array, jax.Array]],
    factors_a: list[tuple[jax.Array, jax.Array]],
    *,
    damping: float = 1e-3,
) -> jax.Array:
  """BalNet's ``Tr(I_{A∪B} I_A^-1) ≈ sum_l Tr(psi_{l,A∪B} psi_{l,A}^-1) Tr(tau_{l,A∪B} tau_{l,A}^-1)``.

  Uses ``Tr((P ⊗ T)(Q ⊗ U)^-1) = Tr(P Q^-1) Tr(T U^-1)`` on each block of the block-diagonal Fisher.

  Args:
    factors_ab: per layer ``(psi, tau)`` of ``A ∪ B``.
    factors_a: per layer ``(psi, tau)`` of ``A`` (inverted with :func:`damped_inverse`).
    damping: relative Tikhonov damping of the inverses.
  """
  total = jnp.zeros(())
  for (p_ab, t_ab), (p_a, t_a) in zip(factors_ab, factors_a, strict=True):
    total = total + jnp.trace(linalg.matmul(p_ab, damped_inverse(p_a, damping))) * jnp.trace(
        linalg.matmul(t_ab, damped_inverse(t_a, damping)))
  return total
