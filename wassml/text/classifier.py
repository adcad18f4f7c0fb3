"""Training and prediction for the thesis's text CNN (:class:`wassml.nn.TextCNN`).

Cross-entropy with Adam, as in the thesis (A.2.5); the embedding table may be initialised from
skip-gram vectors (:func:`wassml.text.skipgram.train_skipgram`) and stays trainable.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from wassml.train.state import create_train_state
from wassml.train.step import classifier_loss, make_step


def make_text_cnn_step(model):
  """``step(state, batch, rng) -> (state, metrics)`` with ``batch = {'ids': [B, L], 'y': [B]}``."""

  return jax.jit(make_step(classifier_loss(model.apply, x_key="ids", y_key="y")))


def set_embeddings(state, embeddings: ArrayLike):
  """Replaces the TextCNN's embedding table ``params['embed']['embedding'] [V, E]``."""
  emb = jnp.asarray(embeddings, jnp.float32)
  old = state.params["embed"]["embedding"]
  if emb.shape != old.shape:
    raise ValueError(f"embeddings have shape {emb.shape}, the model's table is {old.shape}")
  params = jax.tree_util.tree_map(lambda x: x, state.params)
  params = {**params, "embed": {**params["embed"], "embedding": emb}}
  return state.replace(params=params, opt_state=state.tx.init(params))


def train_text_cnn(rng: jax.Array, model, ids: ArrayLike, labels: ArrayLike, *,
                   num_epochs: int = 5, batch_size: int = 64, learning_rate: float = 1e-3,
                   embeddings: ArrayLike | None = None, progress: bool = True):
  """Trains a :class:`wassml.nn.TextCNN` on windows.

  Args:
    rng: PRNG key (initialisation, shuffling, dropout).
    model: the TextCNN.
    ids: ``[N, L]`` token ids of the training windows.
    labels: ``[N]`` classes.
    num_epochs: passes over the windows.
    batch_size: windows per step (the last partial batch of an epoch is dropped, unless the
      set is smaller than one batch).
    learning_rate: Adam learning rate.
    embeddings: optional ``[V, E]`` initial embeddings (e.g. skip-gram vectors).
    progress: show a tqdm bar.

  Returns:
    ``(state, history)``: the trained :class:`wassml.train.TrainState` and per-epoch mean
    ``loss`` / ``accuracy`` lists.
  """
  ids = np.asarray(ids, np.int32)
  labels = np.asarray(labels, np.int32)
  if ids.ndim != 2 or labels.shape != (ids.shape[0],):
    raise ValueError(f"expected ids [N, L] and labels [N], got {ids.shape} and {labels.shape}")
  if ids.shape[0] == 0:
    raise ValueError("no training windows")
  present = np.bincount(labels, minlength=model.num_classes)
  if np.any(present == 0):
    raise ValueError(f"class(es) {np.flatnonzero(present == 0).tolist()} have no training "
                     "examples")
  init_rng, loop_rng = jax.random.split(rng)
  state = create_train_state(init_rng, model, jnp.asarray(ids[:1]), optax.adam(learning_rate))
  if embeddings is not None:
    state = set_embeddings(state, embeddings)
  step = make_text_cnn_step(model)
  n = ids.shape[0]
  bs = min(batch_size, n)
  steps_per_epoch = n // bs
  history = {"loss": [], "accuracy": []}
  epochs = range(num_epochs)
  if progress:
    from wassml.train import progress as _progress  # pylint: disable=g-import-not-at-top
    epochs = _progress(epochs, desc="text CNN", unit="epoch", leave=False)
  for epoch in epochs:
    erng = jax.random.fold_in(loop_rng, epoch)
    perm = np.asarray(jax.random.permutation(jax.random.fold_in(erng, 0), n))
    losses, accs = [], []
    for s in range(steps_per_epoch):
      idx = perm[s * bs:(s + 1) * bs]
      batch = {"ids": jnp.asarray(ids[idx]), "y": jnp.asarray(labels[idx])}
      state, metrics = step(state, batch, jax.random.fold_in(erng, s + 1))
      losses.append(metrics["loss"])
      accs.append(metrics["accuracy"])
    history["loss"].append(float(jnp.mean(jnp.stack(losses))))
    history["accuracy"].append(float(jnp.mean(jnp.stack(accs))))
    if progress:
      epochs.set_postfix(loss=f"{history['loss'][-1]:.3f}", acc=f"{history['accuracy'][-1]:.3f}")
  return state, history


def batched_apply(fn, variables, ids: ArrayLike, *, batch_size: int = 256):
  """Applies ``fn(variables, ids_batch) -> pytree of [b, ...]`` over ``ids [N, L]`` in batches
  (the last batch is padded to ``batch_size`` so one compiled shape serves all) and concatenates.
  """
  ids = np.asarray(ids, np.int32)
  n = ids.shape[0]
  outs = []
  for s in range(0, n, batch_size):
    chunk = ids[s:s + batch_size]
    m = chunk.shape[0]
    if m < batch_size and n > batch_size:
      chunk = np.concatenate([chunk, np.repeat(chunk[-1:], batch_size - m, 0)])
    out = fn(variables, jnp.asarray(chunk))
    outs.append(jax.tree_util.tree_map(lambda x, m=m: np.asarray(x)[:m], out))
  return jax.tree_util.tree_map(lambda *xs: np.concatenate(xs), *outs)


@functools.lru_cache(maxsize=None)
def _logits_fn(model):
  return jax.jit(lambda variables, ids: model.apply(variables, ids))


def predict_logits(model, variables, ids: ArrayLike, *, batch_size: int = 256) -> np.ndarray:
  """``[N, K]`` logits of ``ids [N, L]``."""
  return batched_apply(_logits_fn(model), variables, ids, batch_size=batch_size)
