"""Host batch samplers of wassml.train: RandomRows' per-seed valid rows (num_rows)."""

import jax
import numpy as np
import pytest

from wassml.train import RandomRows


def _arrays(num_seeds=2, n=12):
  x = np.arange(num_seeds * n * 3, dtype=np.float32).reshape(num_seeds, n, 3)
  y = np.tile(np.arange(n, dtype=np.int32), (num_seeds, 1))
  return {"x": x, "y": y}


def test_random_rows_num_rows_draws_each_seed_from_its_valid_rows():
  keys = jax.random.split(jax.random.key(0), 2)
  rows = RandomRows(_arrays(), 5, keys, per_seed=("x", "y"), num_rows=[12, 4], block=8)
  seen = {0: set(), 1: set()}
  for i in range(40):  # crosses several blocks
    for s in (0, 1):
      batch = rows(i, s)
      seen[s] |= set(batch["y"].tolist())
      np.testing.assert_array_equal(batch["x"], _arrays()["x"][s][batch["y"]])
  assert seen[1] == {0, 1, 2, 3}  # only the 4 valid rows of seed 1, all of them
  assert len(seen[0]) > 4 and max(seen[0]) < 12


def test_random_rows_num_rows_keeps_the_documented_keys():
  """Step i of seed s draws randint(split(fold_in(key_s, i))[0], shape, 0, num_rows[s]), the
  same rows as a sampler over the first num_rows[s] rows alone."""
  keys = jax.random.split(jax.random.key(3), 2)
  arrays = _arrays()
  rows = RandomRows(arrays, (2, 3), keys, per_seed=("x", "y"), num_rows=np.array([7, 5]))
  for s, n in ((0, 7), (1, 5)):
    alone = RandomRows({"y": arrays["y"][s][:n]}, (2, 3), keys[s])
    for i in (0, 1, 255, 256, 300):
      want = np.asarray(jax.random.randint(
          jax.random.split(jax.random.fold_in(keys[s], i))[0], (2, 3), 0, n))
      np.testing.assert_array_equal(rows.indices(i, s), want)
      np.testing.assert_array_equal(alone.indices(i), want)


def test_random_rows_num_rows_without_replacement_and_errors():
  keys = jax.random.split(jax.random.key(1), 2)
  rows = RandomRows(_arrays(), 4, keys, per_seed=("x", "y"), num_rows=[12, 4], replace=False)
  np.testing.assert_array_equal(np.sort(rows(3, 1)["y"]), [0, 1, 2, 3])
  with pytest.raises(ValueError, match="distinct rows"):
    RandomRows(_arrays(), 5, keys, per_seed=("x", "y"), num_rows=[12, 4], replace=False)
  with pytest.raises(ValueError, match="one count per seed"):
    RandomRows(_arrays(), 2, keys, per_seed=("x", "y"), num_rows=[3])
  with pytest.raises(ValueError, match="num_rows must be in"):
    RandomRows(_arrays(), 2, keys, per_seed=("x", "y"), num_rows=[3, 13])
  with pytest.raises(ValueError, match="num_rows must be in"):
    RandomRows(_arrays(), 2, keys, per_seed=("x", "y"), num_rows=[0, 3])
  one = RandomRows({"y": np.arange(10)}, 3, jax.random.key(2), num_rows=4)
  assert set(np.concatenate([one(i)["y"] for i in range(20)]).tolist()) <= {0, 1, 2, 3}
