"""Training and prediction for the thesis's text CNN (:class:`wassml.nn.TextCNN`).

Cross-entropy with Adam, as in the thesis (A.2.5); the embedding table may be initialised from
skip-gram vectors (:func:`wassml.text.skipgram.train_skipgram`) and stays trainable. Training runs
through the shared loop, :func:`wassml.train.train_loop` (seeds, execution, checkpoints, resume).
"""

from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from wassml import train as wtrain
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
                   embeddings: ArrayLike | None = None, progress: bool = True,
                   execution: str = "auto", workdir: str | os.PathLike | None = None,
                   name: str = "text_cnn"):
  """Trains a :class:`wassml.nn.TextCNN` on windows, for one seed or several together.

  The epochs run through :func:`wassml.train.train_loop` (``execution``) on
  :class:`wassml.train.EpochBatches`; with ``rng`` of shape ``[S]`` the ``S`` seeds train
  together as one stacked state (``num_seeds``), each with its own initialisation, shuffling and
  dropout keys.

  Args:
    rng: PRNG key (initialisation, shuffling, dropout), or ``[S]`` keys (one run per seed).
    model: the TextCNN.
    ids: ``[N, L]`` token ids of the training windows.
    labels: ``[N]`` classes.
    num_epochs: passes over the windows.
    batch_size: windows per step (the last partial batch of an epoch is dropped, unless the
      set is smaller than one batch).
    learning_rate: Adam learning rate.
    embeddings: optional ``[V, E]`` initial embeddings (e.g. skip-gram vectors); with ``[S]``
      keys, ``[S, V, E]`` (one table per seed) or one ``[V, E]`` table for every seed.
    progress: show the loop's tqdm bar.
    execution: ``"auto"``, ``"host"``, ``"vmap"`` or ``"scan"`` (:func:`wassml.train.train_loop`).
    workdir: where to checkpoint (every epoch, under ``<workdir>/checkpoints/<name>``) and log
      the per-epoch means (``<workdir>/metrics/<name>.jsonl``); a killed run called again with
      the same workdir resumes from its last epoch. None: no checkpoints.
    name: the run's name in ``workdir``.

  Returns:
    ``(state, history)``: the trained :class:`wassml.train.TrainState` and per-epoch mean
    ``loss`` / ``accuracy`` lists (plus ``start_step``: 0 unless it resumed). With ``[S]`` keys,
    the state is stacked over seeds (:func:`wassml.train.unstack_states`) and ``history`` is a
    list of ``S`` such dicts.
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
  seeds = jnp.ndim(rng) == 1
  keys = list(rng) if seeds else [rng]
  num = len(keys)
  if embeddings is not None:
    embeddings = np.asarray(embeddings, np.float32)
    if embeddings.ndim == 2:
      embeddings = np.broadcast_to(embeddings, (num,) + embeddings.shape)
    elif not seeds or embeddings.shape[0] != num:
      raise ValueError(f"embeddings of shape {embeddings.shape} for {num} seed(s): give one "
                       "[V, E] table, or [S, V, E] with [S] keys")
  tx = optax.adam(learning_rate)
  states, batch_keys, step_keys = [], [], []
  for s, key in enumerate(keys):
    init_rng, loop_rng = jax.random.split(key)
    state = create_train_state(init_rng, model, jnp.asarray(ids[:1]), tx)
    if embeddings is not None:
      state = set_embeddings(state, embeddings[s])
    states.append(state)
    batch_keys.append(jax.random.fold_in(loop_rng, 0))
    step_keys.append(jax.random.fold_in(loop_rng, 1))
  n = ids.shape[0]
  bs = min(batch_size, n)
  batches = wtrain.EpochBatches({"ids": ids, "y": labels},
                                bs, jnp.stack(batch_keys) if seeds else batch_keys[0])
  spe = batches.steps_per_epoch
  state, info = wtrain.run_phase(
      wtrain.stack_states(states) if seeds else states[0], make_text_cnn_step(model), batches,
      workdir=workdir, name=name, rng=jnp.stack(step_keys) if seeds else step_keys[0],
      num_steps=num_epochs * spe, num_seeds=num if seeds else None, execution=execution,
      checkpoint_every=spe, log_every=spe, desc=f"text CNN {name}", show_progress=progress)
  records = info["records"]
  history = [{"loss": [], "accuracy": [], "start_step": info["start_step"]} for _ in range(num)]
  for r in sorted(records, key=lambda r: r["step"]):
    if "train/loss" in r:
      h = history[int(r.get("seed", 0))]
      h["loss"].append(float(r["train/loss"]))
      h["accuracy"].append(float(r["train/accuracy"]))
  return state, (history if seeds else history[0])


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


@functools.lru_cache(maxsize=16)  # bounded: at most 16 models' compiled programs kept alive
def _logits_fn(model):
  return jax.jit(lambda variables, ids: model.apply(variables, ids))


def predict_logits(model, variables, ids: ArrayLike, *, batch_size: int = 256) -> np.ndarray:
  """``[N, K]`` logits of ``ids [N, L]``."""
  return batched_apply(_logits_fn(model), variables, ids, batch_size=batch_size)
