"""Tests for wassml.embedding.pairs: exact W2^2 pair targets against POT's ot.emd2."""

import numpy as np
import ot as pot
import pytest

import jax

from wassml.embedding import pairs


def _images(seed, n, h=6, w=6, density=0.5):
  rng = np.random.default_rng(seed)
  x = rng.random((n, h, w)) * (rng.random((n, h, w)) < density)
  x[:, 0, 0] += 0.1  # positive mass everywhere
  return x.astype(np.float32)


def test_grid_cost_matches_pot_dist_on_meshgrid():
  h, w = 4, 5
  rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
  xy = np.stack([rows.ravel(), cols.ravel()], 1).astype(float)
  np.testing.assert_allclose(pairs.grid_cost(h, w), pot.dist(xy, xy), atol=1e-6)


def test_shift_gives_squared_displacement():
  x = np.zeros((1, 7, 7), np.float32)
  y = np.zeros((1, 7, 7), np.float32)
  x[0, 2, 1] = 1.0
  y[0, 4, 4] = 1.0  # moved by (2, 3): W2^2 = 4 + 9
  np.testing.assert_allclose(pairs.pair_targets(x, y), [13.0], rtol=1e-5)


@pytest.mark.parametrize("compact", [True, False])
def test_pair_targets_match_pot_emd2_non_uniform(compact):
  x1, x2 = _images(0, 10), _images(1, 10)
  got = pairs.pair_targets(x1, x2, batch_size=4, compact_support=compact)  # 10 = 4 + 4 + 2 (padded last batch)
  cost = np.asarray(pairs.grid_cost(6, 6), np.float64)
  ref = []
  for a, b in zip(x1.reshape(10, -1).astype(np.float64), x2.reshape(10, -1).astype(np.float64)):
    ref.append(pot.emd2(a / a.sum(), b / b.sum(), cost))
  np.testing.assert_allclose(got, ref, rtol=1e-3, atol=1e-4)


def test_pair_targets_on_real_digits_match_pot():
  from sklearn.datasets import load_digits
  x = load_digits().images[:16].astype(np.float32)  # 8x8 grid, many empty pixels
  got = pairs.pair_targets(x[:8], x[8:], batch_size=8)
  h = x.reshape(16, -1).astype(np.float64)
  h /= h.sum(1, keepdims=True)
  cost = np.asarray(pairs.grid_cost(8), np.float64)
  ref = [pot.emd2(h[i], h[8 + i], cost) for i in range(8)]
  np.testing.assert_allclose(got, ref, rtol=1e-3, atol=1e-4)


def test_bad_inputs_raise_clear_errors():
  good = _images(0, 2)
  neg = good.copy()
  neg[1, 2, 2] = -0.5
  with pytest.raises(ValueError, match="non-negative"):
    pairs.pair_targets(neg, good)
  zero = good.copy()
  zero[0] = 0.0
  with pytest.raises(ValueError, match="mass"):
    pairs.pair_targets(good, zero)
  with pytest.raises(ValueError, match="mismatched grid sizes"):
    pairs.pair_targets(good, _images(0, 2, h=5, w=5))
  with pytest.raises(ValueError, match="shape"):
    pairs.to_histograms(np.ones((2, 3, 3, 3)))
  nan = good.copy()
  nan[0, 1, 1] = np.nan
  with pytest.raises(ValueError, match="NaN"):
    pairs.to_histograms(nan)


def test_generate_pairs_resumes_from_checkpoint(tmp_path, monkeypatch):
  x = _images(2, 12, h=5, w=5)
  key = jax.random.key(3)
  full = pairs.generate_pairs(key, x, 10, cache_dir=tmp_path, chunk_size=4, progress=False)
  assert sorted(p.name for p in tmp_path.glob("chunk_*.npz")) == [
      "chunk_00000.npz", "chunk_00001.npz", "chunk_00002.npz"]
  (tmp_path / "chunk_00001.npz").unlink()  # an interrupted run: one chunk missing
  calls = []
  real = pairs.pair_targets
  monkeypatch.setattr(pairs, "pair_targets",
                      lambda a, b, **kw: calls.append(len(a)) or real(a, b, **kw))
  again = pairs.generate_pairs(key, x, 10, cache_dir=tmp_path, chunk_size=4, progress=False)
  assert calls == [4]  # only the missing chunk was solved
  np.testing.assert_array_equal(again.i1, full.i1)
  np.testing.assert_allclose(again.w2, full.w2, rtol=1e-6)
  h = x.reshape(12, -1).astype(np.float64)
  h /= h.sum(1, keepdims=True)
  cost = np.asarray(pairs.grid_cost(5), np.float64)
  ref = [pot.emd2(h[i], h[j], cost) for i, j in zip(full.i1, full.i2)]
  np.testing.assert_allclose(full.w2, ref, rtol=1e-3, atol=1e-4)
  # a smaller request reuses the prefix; a larger one solves only the new chunk
  calls.clear()
  head = pairs.generate_pairs(key, x, 6, cache_dir=tmp_path, chunk_size=4, progress=False)
  assert calls == [] and len(head) == 6
  np.testing.assert_array_equal(head.w2, full.w2[:6])
  more = pairs.generate_pairs(key, x, 14, cache_dir=tmp_path, chunk_size=4, progress=False)
  assert calls == [4, 2]  # chunk 2 grows from 2 to 4 pairs, chunk 3 is new
  np.testing.assert_array_equal(more.i1[:10], full.i1)
  np.testing.assert_allclose(more.w2[:10], full.w2, rtol=1e-6)
  with pytest.raises(ValueError, match="other arguments"):
    pairs.generate_pairs(jax.random.key(4), x, 10, cache_dir=tmp_path, chunk_size=4,
                         progress=False)
  train, valid = full.split(0.8)
  assert len(train) == 8 and len(valid) == 2


def test_pair_targets_refuse_uncertified_solves():
  """A solver that does not certify its answer (converged False) must not yield a target."""
  x1, x2 = _images(2, 3), _images(3, 3)

  def unconverged(cost, a, b):
    from wassml import ot as wot
    return wot.emd(cost, a, b).replace(converged=jax.numpy.zeros((), bool))

  with pytest.raises(RuntimeError, match="did not converge"):
    pairs.pair_targets(x1, x2, solver=unconverged)
