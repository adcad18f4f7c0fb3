"""Tests for wassml.data: registry, synthetic sets, IDX reader, TFDS path, DA pairs, noise,
samplers."""

import gzip
import pathlib
import struct

import jax
import numpy as np
import pytest
from sklearn import datasets as skd

from wassml import data
from wassml.data import fashion_mnist as fm

HAVE_FMNIST = all((fm.SYSTEM_DIR / f"{s}-{k}-idx{d}-ubyte.gz").exists()
                  for s in ("train", "t10k") for k, d in (("images", 3), ("labels", 1)))
needs_fmnist = pytest.mark.skipif(not HAVE_FMNIST,
                                  reason="sudo apt-get install dataset-fashion-mnist")


# ----------------------------------------------------------------------------- registry
def test_unknown_dataset_lists_valid_names():
  with pytest.raises(ValueError, match="valid names") as e:
    data.load("not_a_dataset")
  for name in ("moons", "three_moons", "fashion_mnist", "mnist", "digits"):
    assert name in str(e.value)


def test_list_datasets_all_loadable_offline_ones():
  for name in data.list_datasets():
    if data.is_offline(name) and (name != "fashion_mnist" or HAVE_FMNIST):
      ds = data.load(name, "test", max_examples=7)
      text = name == "fortunes"  # a text corpus: x holds strings
      assert len(ds) == 7 and ds.y.dtype == np.int32
      assert all(isinstance(t, str) for t in ds.x) if text else ds.x.dtype == np.float32
      assert ds.y.min() >= 0 and ds.y.max() < ds.num_classes


def test_max_examples_must_be_positive():
  with pytest.raises(ValueError, match="max_examples"):
    data.load("moons", max_examples=0)


# ----------------------------------------------------------------------------- synthetic
def test_three_moons_is_three_classes_of_1000_and_reproducible():
  ds = data.load("three_moons")
  assert ds.x.shape == (3000, 2) and ds.num_classes == 3
  np.testing.assert_array_equal(np.bincount(ds.y), [1000, 1000, 1000])
  again = data.load("three_moons")
  np.testing.assert_array_equal(ds.x, again.x)
  test = data.load("three_moons", "test")
  assert not np.allclose(ds.x[:10], test.x[:10])  # independent split
  # Each class is a half circle of radius 1 around its centre (noise 0.1).
  centres = {0: (0.0, 0.0), 1: (1.0, 0.5), 2: (2.0, 0.0)}
  for k, c in centres.items():
    r = np.linalg.norm(ds.x[ds.y == k] - np.asarray(c), axis=1)
    assert abs(r.mean() - 1.0) < 0.02


def test_moons_matches_sklearn():
  ds = data.load("moons", n_per_class=50, noise=0.0)
  x, _ = skd.make_moons(100, noise=0.0)
  # Same point set (sklearn's noiseless moons are deterministic up to order).
  a = np.sort(np.round(ds.x, 5).view("f4,f4").ravel())
  b = np.sort(np.round(x.astype(np.float32), 5).view("f4,f4").ravel())
  np.testing.assert_array_equal(a, b)


def test_digits_is_sklearn_digits():
  tr, te = data.load("digits", "train"), data.load("digits", "test")
  assert len(tr) + len(te) == 1797 and tr.shape == (8, 8, 1)
  d = skd.load_digits()
  # Every test image is a sklearn image (scaled by 1/16) with its label.
  lookup = {d.images[i].tobytes(): d.target[i] for i in range(len(d.images))}
  for img, lab in zip(te.x[:50], te.y[:50]):
    assert lookup[(img[..., 0] * 16.0).astype(np.float64).tobytes()] == lab


# ----------------------------------------------------------------------------- Fashion-MNIST
def _write_idx(path: pathlib.Path, arr: np.ndarray, code: int = 0x08):
  header = bytes([0, 0, code, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
  with gzip.open(path, "wb") as f:
    f.write(header + arr.astype(np.uint8).tobytes())


def test_read_idx_roundtrip_and_corruption(tmp_path):
  arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
  _write_idx(tmp_path / "a.gz", arr)
  np.testing.assert_array_equal(data.read_idx(tmp_path / "a.gz"), arr)
  raw = gzip.open(tmp_path / "a.gz").read()
  (tmp_path / "trunc").write_bytes(raw[:-3])
  with pytest.raises(ValueError, match="truncated"):
    data.read_idx(tmp_path / "trunc")
  (tmp_path / "bad").write_bytes(b"\x01\x02" + raw[2:])
  with pytest.raises(ValueError, match="magic"):
    data.read_idx(tmp_path / "bad")


def test_fashion_mnist_data_dir_override(tmp_path, monkeypatch):
  rng = np.random.default_rng(0)
  for stem, n in (("train", 6), ("t10k", 4)):
    _write_idx(tmp_path / f"{stem}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
    _write_idx(tmp_path / f"{stem}-labels-idx1-ubyte.gz", rng.integers(0, 10, (n,)))
  monkeypatch.setenv("WASSML_DATA_DIR", str(tmp_path))
  ds = data.load("fashion_mnist", "test")
  assert ds.x.shape == (4, 28, 28, 1) and 0.0 <= ds.x.min() and ds.x.max() <= 1.0
  raw = gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz").read()[16:]
  np.testing.assert_allclose(ds.x.ravel() * 255.0, np.frombuffer(raw, np.uint8), atol=1e-4)


def test_missing_fashion_mnist_names_the_install_command(tmp_path, monkeypatch):
  monkeypatch.setenv("WASSML_DATA_DIR", str(tmp_path))
  monkeypatch.setattr(fm, "SYSTEM_DIR", tmp_path / "nowhere")
  with pytest.raises(data.DataNotFoundError, match="sudo apt-get install dataset-fashion-mnist"):
    data.load("fashion_mnist")


@needs_fmnist
def test_fashion_mnist_real_files():
  tr, te = data.load("fashion_mnist"), data.load("fashion_mnist", "test")
  assert tr.x.shape == (60000, 28, 28, 1) and te.x.shape == (10000, 28, 28, 1)
  np.testing.assert_array_equal(np.bincount(te.y), [1000] * 10)
  np.testing.assert_array_equal(np.bincount(tr.y), [6000] * 10)


# ----------------------------------------------------------------------------- TFDS
def test_tfds_through_data_source_with_mock_data():
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  with tfds.testing.mock_data(num_examples=9):
    ds = data.load("mnist", "train", max_examples=5)
    assert ds.x.shape == (5, 28, 28, 1) and ds.x.dtype == np.float32
    assert ds.num_classes == 10 and ds.x.max() <= 1.0
    src = data.tfds_source("svhn_cropped", "test")
    assert len(src) == 9 and np.asarray(src[0]["image"]).shape == (32, 32, 3)
    text = data.load("imdb_reviews", "train", max_examples=4)
    assert text.x.dtype == object and isinstance(text.x[0], str)
    ids, vocab = data.tokenize(text.x, max_len=12, vocab_size=50)
    assert ids.shape == (4, 12) and ids.max() < len(vocab) <= 50
    src_ds, tgt_ds = data.domain_pair("svhn_mnist", max_examples=3)
    assert src_ds.x.shape == (3, 32, 32, 3) and tgt_ds.x.shape == (3, 32, 32, 3)
    src_ds, tgt_ds = data.domain_pair("mnist_usps_style", max_examples=4)
    assert src_ds.x.shape == tgt_ds.x.shape == (4, 28, 28, 1)
    # The USPS-style target has 16x16 resolution: downsampling again changes (almost) nothing.
    again = data.domain.resize_images(data.domain.resize_images(tgt_ds.x, 16), 28)
    assert np.abs(again - tgt_ds.x).mean() < 0.5 * np.abs(
        data.domain.resize_images(data.domain.resize_images(src_ds.x, 16), 28) - src_ds.x).mean()


def test_tfds_missing_data_is_a_clear_error(tmp_path):
  with pytest.raises(data.DataNotFoundError, match="tfds build mnist"):
    data.load("mnist", data_dir=str(tmp_path), download=False)


def test_tokenize_against_hand_count():
  ids, vocab = data.tokenize(["the cat the dog", "a cat"], max_len=5, vocab_size=4)
  assert vocab == {"<pad>": 0, "<unk>": 1, "the": 2, "cat": 3}
  np.testing.assert_array_equal(ids, [[2, 3, 2, 1, 0], [1, 3, 0, 0, 0]])


# ----------------------------------------------------------------------------- DA pairs
def test_rotated_moons_pair():
  for deg in (30, 50):
    src, tgt = data.domain_pair(f"moons_rot{deg}", max_examples=400)
    assert src.x.shape == tgt.x.shape == (400, 2)
    # Undoing the rotation gives a sample of the source distribution: same class means.
    back = data.domain.rotate_2d(tgt.x, -deg)
    for k in (0, 1):
      np.testing.assert_allclose(back[tgt.y == k].mean(0), src.x[src.y == k].mean(0), atol=0.08)
  p = np.array([[1.5, 0.25]], np.float32)
  q = data.domain.rotate_2d(p, 30.0)
  ang = np.degrees(np.arctan2(q[0, 1] - 0.25, q[0, 0] - 0.5))
  assert abs(ang - 30.0) < 1e-4


def test_unknown_pair_lists_valid_names():
  with pytest.raises(ValueError, match="fmnist_blend"):
    data.domain_pair("mnist_to_moon")
  with pytest.raises(ValueError, match="target_classes"):
    data.domain_pair("moons_rot30", target_classes=[5])


def test_texture_blend_is_mnistm_style():
  x = np.random.default_rng(0).uniform(0, 1, (5, 28, 28, 1)).astype(np.float32)
  out = data.domain.blend_with_textures(3, x)
  assert out.shape == (5, 28, 28, 3) and out.min() >= 0 and out.max() <= 1
  # |patch - x|: where x = 0 the output is the patch, where x = 1 it is 1 - patch.
  zeros = data.domain.blend_with_textures(3, np.zeros_like(x))
  ones = data.domain.blend_with_textures(3, np.ones_like(x))
  np.testing.assert_allclose(zeros + ones, 1.0, atol=1e-6)
  assert zeros.std() > 0.05  # a real texture, not a constant
  np.testing.assert_array_equal(out, data.domain.blend_with_textures(3, x))  # seeded


def test_photo_blend_is_mnistm_style():
  photos = data.domain.sample_photos()
  assert photos.shape == (2, 427, 640, 3) and photos.dtype == np.float32
  assert 0.0 <= photos.min() and photos.max() <= 1.0 and photos.std() > 0.1   # real photos
  x = np.random.default_rng(0).uniform(0, 1, (6, 28, 28, 1)).astype(np.float32)
  out = data.domain.blend_with_photos(4, x)
  assert out.shape == (6, 28, 28, 3) and out.dtype == np.float32
  zeros = data.domain.blend_with_photos(4, np.zeros_like(x))   # = the photo patches
  ones = data.domain.blend_with_photos(4, np.ones_like(x))
  np.testing.assert_allclose(zeros + ones, 1.0, atol=1e-6)     # |patch - x| per channel
  np.testing.assert_allclose(out, np.abs(zeros - x), atol=1e-6)
  assert not np.allclose(zeros[0], zeros[1])                   # a different crop per image
  np.testing.assert_array_equal(out, data.domain.blend_with_photos(4, x))  # seeded
  assert not np.array_equal(out, data.domain.blend_with_photos(5, x))
  # Each patch is a crop of one of the photos, possibly flipped.
  p = zeros[0]
  found = False
  for im in photos:
    for q in (p, p[::-1], p[:, ::-1], p[::-1, ::-1]):
      hits = np.argwhere(np.all(np.isclose(im[:-27, :-27], q[0, 0], atol=1e-6), -1))
      found |= any(np.allclose(im[i:i + 28, j:j + 28], q, atol=1e-6) for i, j in hits)
  assert found


def test_crop_patches_shapes_and_bounds():
  img = np.arange(2 * 10 * 12 * 1, dtype=np.float32).reshape(2, 10, 12, 1)
  p = data.domain.crop_patches(0, img, 50, 4, 5)
  assert p.shape == (50, 4, 5, 1)
  # Every crop is a contiguous window: consecutive columns differ by 1, rows by 12.
  np.testing.assert_array_equal(np.diff(p[..., 0], axis=2), 1.0)
  np.testing.assert_array_equal(np.diff(p[..., 0], axis=1), 12.0)


@needs_fmnist
def test_fmnist_pairs_and_partial():
  for name, ch in (("fmnist_blend", 3), ("fmnist_photo", 3), ("fmnist_invert", 1),
                   ("fmnist_rotate", 1)):
    src, tgt = data.domain_pair(name, max_examples=60)
    assert src.x.shape[1:] == tgt.x.shape[1:] == (28, 28, ch)
    assert not np.allclose(src.x.mean(), tgt.x.mean(), atol=1e-3) or name == "fmnist_rotate"
  src, tgt = data.domain_pair("fmnist_invert")
  full = data.load("fashion_mnist")
  np.testing.assert_allclose(tgt.x[:3], 1.0 - full.x[1:7:2])  # odd rows, inverted
  _, tgt = data.domain_pair("fmnist_blend_partial", max_examples=200)
  assert set(np.unique(tgt.y)) == {0, 1, 2, 3, 4}
  _, tgt = data.domain_pair("fmnist_rotate", max_examples=200, target_classes=[2, 7])
  assert set(np.unique(tgt.y)) == {2, 7}


# ----------------------------------------------------------------------------- label noise
@pytest.mark.parametrize("kind", ["symmetric", "pairflip"])
def test_label_noise_rate_and_transitions(kind):
  k, n, rate = 5, 50000, 0.3
  y = np.repeat(np.arange(k), n // k)
  yn, realised = data.add_label_noise(jax.random.key(1), y, rate=rate, kind=kind, num_classes=k)
  assert realised == pytest.approx(np.mean(yn != y))
  assert abs(realised - rate) < 4 * np.sqrt(rate * (1 - rate) / n)
  emp = np.zeros((k, k))
  np.add.at(emp, (y, yn), 1.0)
  emp /= emp.sum(1, keepdims=True)
  np.testing.assert_allclose(emp, data.noise_transition_matrix(rate, k, kind), atol=0.02)
  if kind == "pairflip":
    flipped = yn != y
    np.testing.assert_array_equal(yn[flipped], (y[flipped] + 1) % k)
  yn2, _ = data.add_label_noise(jax.random.key(1), y, rate=rate, kind=kind, num_classes=k)
  np.testing.assert_array_equal(yn, yn2)


@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5])
def test_label_noise_rate_out_of_range(rate):
  with pytest.raises(ValueError, match=r"\[0, 1\)"):
    data.add_label_noise(jax.random.key(0), np.zeros(4, int), rate=rate, num_classes=2)


def test_label_noise_bad_kind_and_labels():
  with pytest.raises(ValueError, match="pairflip"):
    data.add_label_noise(jax.random.key(0), np.zeros(4, int), rate=0.1, kind="x",
                         num_classes=2)
  with pytest.raises(ValueError, match="labels must lie"):
    data.add_label_noise(jax.random.key(0), np.array([0, 3]), rate=0.1, num_classes=2)
  yn, r = data.add_label_noise(jax.random.key(0), np.arange(4) % 2, rate=0.0, num_classes=2)
  assert r == 0.0


# ----------------------------------------------------------------------------- samplers
def test_shuffle_batches_is_a_seeded_permutation():
  bs = list(data.shuffle_batches(jax.random.key(0), 10, 3))
  assert [len(b) for b in bs] == [3, 3, 3]
  assert len(set(np.concatenate(bs))) == 9
  bs2 = list(data.shuffle_batches(jax.random.key(0), 10, 3, drop_remainder=False))
  np.testing.assert_array_equal(np.sort(np.concatenate(bs2)), np.arange(10))
  np.testing.assert_array_equal(np.concatenate(bs), np.concatenate(bs2)[:9])
  other = np.concatenate(list(data.shuffle_batches(jax.random.key(1), 10, 3)))
  assert not np.array_equal(other, np.concatenate(bs))
  with pytest.raises(ValueError):
    list(data.shuffle_batches(jax.random.key(0), 3, 5))


def test_balanced_batches_draw_the_same_number_per_class():
  y = np.array([0] * 7 + [1] * 3 + [2] * 20)
  batches = list(data.balanced_batches(jax.random.key(0), y, 2, num_batches=6))
  for b in batches:
    np.testing.assert_array_equal(np.bincount(y[b], minlength=3), [2, 2, 2])
  # Class 1 has 3 examples: its first 3 draws are a permutation of them (no replacement).
  draws = np.concatenate([b[2:4] for b in batches])
  assert sorted(draws[:3]) == [7, 8, 9]
  again = list(data.balanced_batches(jax.random.key(0), y, 2, num_batches=6))
  np.testing.assert_array_equal(np.stack(batches), np.stack(again))
