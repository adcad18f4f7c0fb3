"""DQBC's committee (Ducoffe thesis ch. 3): partial networks by batchwise dropout, each fine-tuned.

Batchwise dropout (Graham 2015) draws ONE Bernoulli mask per unit for the whole batch, so a conv
layer loses whole filters and a dense layer whole units: a *partial network* with the same
architecture and zeroed connections. Each member's masks are fixed, and only its last layer is
fine-tuned on the labelled set (Figure 3.1, "backpropagation on the last layer"). The ``K``
members are vmapped.
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import traverse_util
from jax.typing import ArrayLike

__all__ = ["batchwise_dropout_masks", "apply_masks", "build_committee", "last_layer_name"]


def last_layer_name(params: Any) -> str:
  """The top-level name of the last layer holding a ``kernel`` (flax keeps call order)."""
  names = [k for k, v in params.items() if isinstance(v, dict) and "kernel" in v]
  if not names:
    raise ValueError("committee: the model has no layer with a 'kernel'")
  return names[-1]


def batchwise_dropout_masks(rng: jax.Array, params: Any, rate: float) -> Any:
  """One keep-mask per output unit/filter of every hidden layer (the last layer is kept whole).

  Args:
    rng: PRNG key.
    params: the trained parameters (a nested dict of layers with ``kernel``/``bias``).
    rate: drop probability of a unit/filter, in ``[0, 1)``.

  Returns:
    A pytree like ``params`` of 0/1 multipliers broadcastable onto each leaf: for a kernel
    ``[..., d_out]`` and its bias ``[d_out]`` the same ``[d_out]`` mask (at least one unit kept).
  """
  if not 0.0 <= rate < 1.0:
    raise ValueError(f"batchwise_dropout_masks: rate must be in [0, 1), got {rate}")
  last = last_layer_name(params)
  flat = traverse_util.flatten_dict(params)
  layers = sorted({k[:-1] for k in flat})
  masks = {}
  for i, layer in enumerate(layers):
    kernel = flat.get(layer + ("kernel",))
    if kernel is None or layer[0] == last:
      m = None
    else:
      d_out = kernel.shape[-1]
      keep = jax.random.bernoulli(jax.random.fold_in(rng, i), 1.0 - rate, (d_out,))
      keep = keep.at[jax.random.randint(jax.random.fold_in(rng, 10_000 + i), (), 0, d_out)].set(True)
      m = keep.astype(jnp.float32)
    for leaf in ("kernel", "bias"):
      if layer + (leaf,) in flat:
        masks[layer + (leaf,)] = jnp.ones(()) if m is None else m
  for k in flat:
    masks.setdefault(k, jnp.ones(()))
  return traverse_util.unflatten_dict(masks)


def apply_masks(params: Any, masks: Any) -> Any:
  """Zeroes the dropped filters/units: ``params * masks`` leafwise (masks broadcast on the last axis)."""
  return jax.tree.map(lambda p, m: p * m, params, masks)


@functools.lru_cache(maxsize=16)
def _committee_fn(module: nn.Module, num_members: int, rate: float, steps: int, batch_size: int, lr: float):
  tx = optax.adam(lr)

  def member(key, params, x, y, n_valid, x_cand):
    k_mask, k_loop = jax.random.split(key)
    masks = batchwise_dropout_masks(k_mask, params, rate)
    thin = apply_masks(params, masks)
    last = last_layer_name(params)
    head = thin[last]
    opt = tx.init(head)

    def loss(h, xb, yb):
      p = dict(thin)
      p[last] = h
      logits = module.apply({"params": p}, xb, train=False)
      return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    def step(i, carry):
      h, o = carry
      idx = jax.random.randint(jax.random.fold_in(k_loop, i), (batch_size,), 0, jnp.maximum(n_valid, 1))
      g = jax.grad(loss)(h, x[idx], y[idx])
      upd, o = tx.update(g, o, h)
      return optax.apply_updates(h, upd), o

    head, _ = jax.lax.fori_loop(0, steps, step, (head, opt))
    p = dict(thin)
    p[last] = head
    return jax.nn.softmax(module.apply({"params": p}, x_cand, train=False), axis=-1)

  def committee(key, params, x, y, n_valid, x_cand):
    keys = jax.random.split(key, num_members)
    return jax.vmap(member, in_axes=(0, None, None, None, None, None))(keys, params, x, y, n_valid, x_cand)

  return jax.jit(committee)


def build_committee(
    rng: jax.Array,
    module: nn.Module,
    params: Any,
    x_labelled: ArrayLike,
    y_labelled: ArrayLike,
    x_candidates: ArrayLike,
    *,
    num_members: int = 5,
    rate: float = 0.5,
    finetune_steps: int = 50,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
) -> jax.Array:
  """Committee predictions on the candidates.

  Args:
    rng: PRNG key (masks and fine-tuning minibatches).
    module: the linen classifier.
    params: trained parameters of the full network.
    x_labelled: ``[n_l, ...]`` labelled inputs (fine-tuning set, ``n_l >= 1``).
    y_labelled: ``[n_l]`` labels.
    x_candidates: ``[n_c, ...]`` candidates to score.
    num_members: committee size ``K`` (5 in the thesis).
    rate: batchwise-dropout rate per filter/unit.
    finetune_steps: Adam steps on the last layer of each member.
    batch_size: fine-tuning minibatch size.
    learning_rate: fine-tuning step size.

  Returns:
    ``[K, n_c, num_classes]`` member probabilities.
  """
  x_labelled = jnp.asarray(x_labelled, jnp.float32)
  if x_labelled.shape[0] == 0:
    raise ValueError("build_committee: the labelled set is empty; DQBC fine-tunes on it")
  fn = _committee_fn(module, int(num_members), float(rate), int(finetune_steps), int(batch_size), float(learning_rate))
  return fn(rng, params, x_labelled, jnp.asarray(y_labelled, jnp.int32), jnp.asarray(x_labelled.shape[0]),
            jnp.asarray(x_candidates, jnp.float32))
