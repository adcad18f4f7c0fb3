"""Skip-gram with negative sampling: the loss against numpy, pairs by hand, and topics learnt."""

import jax
import numpy as np
import pytest

from wassml.text import sgns_loss, skipgram_pairs, train_skipgram


def test_sgns_loss_matches_numpy():
  rng = np.random.default_rng(0)
  pos = rng.normal(size=8)
  neg = rng.normal(size=(8, 5))
  log_sig = lambda v: -np.log1p(np.exp(-v))
  expect = np.mean(-log_sig(pos) - log_sig(-neg).sum(-1))
  assert float(sgns_loss(pos, neg)) == pytest.approx(expect, rel=1e-5)


def test_skipgram_pairs_by_hand():
  pairs = skipgram_pairs([np.array([2, 3, 4, 0]), np.array([5])], window=1)
  assert sorted(map(tuple, pairs.tolist())) == sorted([(2, 3), (3, 2), (3, 4), (4, 3)])
  with pytest.raises(ValueError, match="fewer than 2 tokens"):
    skipgram_pairs([np.array([5])], window=2)


def test_skipgram_learns_topics():
  rng = np.random.default_rng(0)
  texts = [rng.integers(2 + 10 * (i % 2), 12 + 10 * (i % 2), size=20) for i in range(120)]
  emb, info = train_skipgram(jax.random.key(0), texts, 22, dim=12, window=3, batch_size=128,
                             num_steps=200, learning_rate=0.05, progress=False)
  assert emb.shape == (22, 12)
  assert info["loss"][-1] < info["loss"][0]
  e = np.array(emb)
  e /= np.linalg.norm(e, axis=1, keepdims=True)
  sim = e @ e.T
  a, b = np.arange(2, 12), np.arange(12, 22)
  within = (sim[np.ix_(a, a)].mean() + sim[np.ix_(b, b)].mean()) / 2
  across = sim[np.ix_(a, b)].mean()
  assert within > across + 0.3, (within, across)


def test_negative_sampling_law():
  import jax.numpy as jnp
  from wassml.text.skipgram import SkipGram, make_sgns_step
  from flax.training import train_state
  import optax
  counts = np.array([0.0, 0.0, 1.0, 16.0, 81.0])
  cdf = jnp.asarray(np.cumsum(counts ** 0.75), jnp.float32)
  model = SkipGram(5, 2)
  params = model.init(jax.random.key(0), jnp.zeros((1,), jnp.int32),
                      jnp.zeros((1, 1), jnp.int32))["params"]
  # Sample through the same code path the step uses.
  u = jax.random.uniform(jax.random.key(1), (20000,)) * cdf[-1]
  negs = np.asarray(jnp.clip(jnp.searchsorted(cdf, u, side="right"), 0, 4))
  freq = np.bincount(negs, minlength=5) / negs.size
  np.testing.assert_allclose(freq, counts ** 0.75 / (counts ** 0.75).sum(), atol=0.01)
  state = train_state.TrainState.create(apply_fn=model.apply, params=params, tx=optax.sgd(0.1))
  step = make_sgns_step(model, 3)
  state2, m = step(state, jnp.array([[2, 3], [3, 4]]), jax.random.key(2), cdf)
  assert np.isfinite(float(m["loss"])) and int(state2.step) == 1
