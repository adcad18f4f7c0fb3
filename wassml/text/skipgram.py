"""A small skip-gram with negative sampling (word2vec, Mikolov et al. 2013) in JAX.

The thesis initialises the text CNN's embeddings with gensim skip-gram vectors (window 10,
128-d, A.2.5); wassml trains its own so no external model is needed. For a centre word ``c``,
a context word ``o`` (within ``window`` words) and ``N`` negatives ``n_j`` drawn from the
unigram law to the power 3/4, the loss is

    -log sigmoid(u_c . v_o) - sum_j log sigmoid(-u_c . v_{n_j}),

with ``u`` the input ("centre") and ``v`` the output ("context") embeddings; ``u`` is returned.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training import train_state
from jax.typing import ArrayLike

from wassml import train as wtrain
from wassml.text.vocab import PAD_ID


class SkipGram(nn.Module):
  """Centre (input) and context (output) embedding tables, ``[V, D]`` each."""
  vocab_size: int
  dim: int = 128

  def setup(self):
    init = nn.initializers.uniform(scale=1.0 / self.dim)
    self.centre = nn.Embed(self.vocab_size, self.dim, embedding_init=init)
    self.context = nn.Embed(self.vocab_size, self.dim, embedding_init=nn.initializers.zeros)

  def __call__(self, centres: jax.Array, contexts: jax.Array) -> jax.Array:
    """Scores ``u_c . v_o``: ``centres [B]``, ``contexts [B, M]`` -> ``[B, M]``."""
    return jnp.einsum("bd,bmd->bm", self.centre(centres), self.context(contexts))

  def embeddings(self) -> jax.Array:
    return self.centre.embedding


def sgns_loss(pos_scores: ArrayLike, neg_scores: ArrayLike) -> jax.Array:
  """Negative-sampling loss of one minibatch.

  Args:
    pos_scores: ``[B]`` scores ``u_c . v_o`` of true (centre, context) pairs.
    neg_scores: ``[B, N]`` scores of (centre, negative) pairs.

  Returns:
    The mean over the batch of ``-log s(pos) - sum_j log s(-neg_j)``.
  """
  pos = jnp.asarray(pos_scores)
  neg = jnp.asarray(neg_scores)
  return jnp.mean(-jax.nn.log_sigmoid(pos) - jax.nn.log_sigmoid(-neg).sum(-1))


def skipgram_pairs(texts_ids: Sequence[np.ndarray], window: int) -> np.ndarray:
  """All (centre, context) pairs within ``window`` words, padding excluded.

  Args:
    texts_ids: token ids of each text (``[T_i]`` each); windows never cross texts.
    window: the context radius.

  Returns:
    ``[P, 2]`` int32 pairs.
  """
  if window < 1:
    raise ValueError(f"window must be >= 1, got {window}")
  out = []
  for ids in texts_ids:
    ids = np.asarray(ids, np.int32)
    ids = ids[ids != PAD_ID]
    for d in range(1, min(window, max(len(ids) - 1, 0)) + 1):
      out.append(np.stack([ids[:-d], ids[d:]], 1))
      out.append(np.stack([ids[d:], ids[:-d]], 1))
  if not out:
    raise ValueError("no skip-gram pairs: every text has fewer than 2 tokens")
  return np.concatenate(out).astype(np.int32)


def make_sgns_step(model: SkipGram, num_negatives: int):
  """``step(state, batch, rng, neg_cdf) -> (state, metrics)`` for ``batch = pairs [B, 2]``;
  ``neg_cdf [V]`` is the cumulative (unnormalised) negative-sampling law."""

  def step(state, batch, rng, neg_cdf):
    pairs = batch
    # Inverse-CDF sampling: O(B N log V), where categorical() would draw B N V Gumbels.
    u = jax.random.uniform(rng, (pairs.shape[0], num_negatives)) * neg_cdf[-1]
    negs = jnp.clip(jnp.searchsorted(neg_cdf, u, side="right"), 0, neg_cdf.shape[0] - 1)

    def loss_fn(params):
      contexts = jnp.concatenate([pairs[:, 1:], negs], axis=1)
      scores = model.apply({"params": params}, pairs[:, 0], contexts)
      return sgns_loss(scores[:, 0], scores[:, 1:])

    loss, grads = jax.value_and_grad(loss_fn)(state.params)
    return state.apply_gradients(grads=grads), {"loss": loss}

  return step


def train_skipgram(rng: jax.Array, texts_ids: Sequence[np.ndarray], vocab_size: int, *,
                   dim: int = 128, window: int = 10, num_negatives: int = 5,
                   batch_size: int = 1024, num_steps: int = 2000, learning_rate: float = 1e-2,
                   steps_per_call: int = 100, progress: bool = True,
                   execution: str = "auto") -> tuple[jax.Array, dict]:
  """Trains skip-gram embeddings on tokenised texts, through :func:`wassml.train.train_loop`.

  Step ``i`` draws ``batch_size`` pairs uniformly (:class:`wassml.train.RandomRows`, key
  ``split(fold_in(loop_key, i))[0]``) and its negatives with ``split(fold_in(loop_key, i))[1]``.

  Args:
    rng: PRNG key (initialisation, minibatches, negatives).
    texts_ids: token ids of each training text.
    vocab_size: ``V``.
    dim: embedding dimension ``D`` (128 in the thesis).
    window: context radius (10 in the thesis).
    num_negatives: negatives per pair.
    batch_size: pairs per step.
    num_steps: Adam steps.
    learning_rate: Adam learning rate.
    steps_per_call: the loss curve holds the mean of every ``steps_per_call`` steps (and, with
      ``execution="scan"``, that many steps run in one compiled call).
    progress: show a tqdm bar.
    execution: ``"auto"``, ``"host"``, ``"vmap"`` or ``"scan"`` (:func:`wassml.train.train_loop`).

  Returns:
    ``(embeddings [V, D], {"loss": mean loss of every ``steps_per_call`` steps})``.
  """
  pairs = skipgram_pairs(texts_ids, window)
  counts = np.bincount(pairs[:, 0], minlength=vocab_size).astype(np.float64)
  counts[PAD_ID] = 0.0
  neg_cdf = jnp.asarray(np.cumsum(counts ** 0.75), jnp.float32)
  model = SkipGram(vocab_size, dim)
  init_rng, loop_rng = jax.random.split(rng)
  params = model.init(init_rng, jnp.zeros((1,), jnp.int32), jnp.zeros((1, 1), jnp.int32))
  state = train_state.TrainState.create(apply_fn=model.apply, params=params["params"],
                                        tx=optax.adam(learning_rate))
  sgns = make_sgns_step(model, num_negatives)

  def step(state, batch, key):
    return sgns(state, batch, jax.random.split(key)[1], neg_cdf)

  writer = wtrain.MetricsWriter(None)
  state, _ = wtrain.train_loop(
      state, step, wtrain.RandomRows(pairs, batch_size, loop_rng),
      rng=loop_rng, num_steps=num_steps, execution=execution, scan_steps=steps_per_call,
      writer=writer, log_every=steps_per_call, desc="skip-gram", show_progress=progress)
  losses = [r["train/loss"] for r in sorted(writer.read(), key=lambda r: r["step"])]
  emb = model.apply({"params": state.params}, method=SkipGram.embeddings)
  return emb, {"loss": np.asarray(losses)}
