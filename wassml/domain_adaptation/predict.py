"""Eval-mode inference of a :class:`DAModel` over a whole array, in fixed-size chunks."""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike


@functools.partial(jax.jit, static_argnames=("apply_fn",))
def _eval_chunk(apply_fn, variables, x):
  logits, feats, _ = apply_fn(variables, x, train=False)
  return logits, feats


def predict(apply_fn: Callable, params: Any, batch_stats: Any, x: ArrayLike,
            *, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
  """Logits and embeddings of ``x`` in eval mode.

  Args:
    apply_fn: ``DAModel.apply``.
    params: model parameters; batch_stats: batch-norm statistics (``{}``/None without BN).
    x: [N, ...] inputs.
    batch_size: chunk size (every chunk is padded to it, so one compilation serves all sizes).

  Returns:
    ``(logits [N, K], features [N, d])`` as NumPy arrays.
  """
  variables = {"params": params}
  if batch_stats:
    variables["batch_stats"] = batch_stats
  x = np.asarray(x)
  n = x.shape[0]
  if n == 0:
    raise ValueError("predict needs at least one example.")
  bs = int(batch_size)
  logits, feats = [], []
  for start in range(0, n, bs):
    chunk = x[start:start + bs]
    pad = bs - chunk.shape[0]
    if pad:  # pad every chunk to one shape: a single compilation per model
      chunk = np.concatenate([chunk, np.zeros((pad,) + chunk.shape[1:], chunk.dtype)], 0)
    lg, ft = _eval_chunk(apply_fn, variables, jnp.asarray(chunk))
    logits.append(np.asarray(lg)[:bs - pad])
    feats.append(np.asarray(ft)[:bs - pad])
  return np.concatenate(logits, 0), np.concatenate(feats, 0)
