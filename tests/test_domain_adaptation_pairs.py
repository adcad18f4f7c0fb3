"""The Fashion-MNIST domain-adaptation pairs keep images and labels aligned (full and partial).

Checked because the blend pair's source-only accuracy is at chance (and below chance on its
partial variant): these tests rule out a label/image mismatch in the pair construction, so that
number is a property of the shift (the source model predicts one absent class, 'Bag', for most
textured images), not of a bug.
"""

import numpy as np
import pytest

from wassml import data
from wassml.data import domain

def _fmnist_or_skip(split="train", n=400):
  try:
    return data.load("fashion_mnist", split, max_examples=n)
  except data.DataNotFoundError as e:  # pragma: no cover - depends on the machine
    pytest.skip(str(e))


@pytest.mark.parametrize("split", ["train", "test"])
def test_blend_pair_is_the_odd_rows_blended_with_their_own_labels(split):
  full = _fmnist_or_skip(split, 200)
  src, tgt = data.domain_pair("fmnist_blend", split=split, max_examples=100, seed=2)
  # Source: even rows, grey repeated on 3 channels; labels of those rows.
  np.testing.assert_array_equal(src.y, full.y[0::2])
  np.testing.assert_array_equal(src.x, np.repeat(full.x[0::2], 3, axis=-1))
  # Target: odd rows blended with the seed's textures; labels of those same rows.
  np.testing.assert_array_equal(tgt.y, full.y[1::2])
  np.testing.assert_array_equal(tgt.x, domain.blend_with_textures(2, full.x[1::2]))
  # Same [0, 1] range and layout in both domains (no per-domain normalisation).
  assert src.x.shape[1:] == tgt.x.shape[1:] == (28, 28, 3)
  assert src.x.dtype == tgt.x.dtype == np.float32
  assert 0.0 <= tgt.x.min() and tgt.x.max() <= 1.0 and src.x.max() <= 1.0


@pytest.mark.parametrize("split", ["train", "test"])
def test_photo_pair_is_the_odd_rows_blended_with_photos(split):
  full = _fmnist_or_skip(split, 200)
  src, tgt = data.domain_pair("fmnist_photo", split=split, max_examples=100, seed=3)
  np.testing.assert_array_equal(src.y, full.y[0::2])
  np.testing.assert_array_equal(src.x, np.repeat(full.x[0::2], 3, axis=-1))
  np.testing.assert_array_equal(tgt.y, full.y[1::2])
  np.testing.assert_array_equal(tgt.x, domain.blend_with_photos(3, full.x[1::2]))
  assert src.x.shape[1:] == tgt.x.shape[1:] == (28, 28, 3)
  assert 0.0 <= tgt.x.min() and tgt.x.max() <= 1.0


@pytest.mark.parametrize("name", ["fmnist_blend", "fmnist_photo", "fmnist_rotate"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_partial_pair_is_the_full_pair_filtered(name, split):
  _fmnist_or_skip(split, 10)
  src_f, tgt_f = data.domain_pair(name, split=split, max_examples=150, seed=1)
  src_p, tgt_p = data.domain_pair(f"{name}_partial", split=split, max_examples=150, seed=1)
  # The source is untouched (all 10 classes); the target keeps classes 0-4, images unchanged and
  # labels not renumbered, so a prediction of class c means the same garment in both pairs.
  np.testing.assert_array_equal(src_p.x, src_f.x)
  np.testing.assert_array_equal(src_p.y, src_f.y)
  keep = tgt_f.y < 5
  np.testing.assert_array_equal(tgt_p.y, tgt_f.y[keep])
  np.testing.assert_array_equal(tgt_p.x, tgt_f.x[keep])
  assert set(np.unique(tgt_p.y)) == {0, 1, 2, 3, 4}
  assert set(np.unique(src_p.y)) == set(range(10))


def _image_keys(x):
  return {row.tobytes() for row in np.asarray(x).reshape(len(x), -1)}


def test_real_digit_pairs_are_the_real_sets_with_their_own_labels():
  for split in ("train", "test"):
    digits, mnist = data.load("digits_28", split), data.load("mnist_5k", split)
    src, tgt = data.domain_pair("digits_to_mnist", split=split)
    np.testing.assert_array_equal(src.x, digits.x)
    np.testing.assert_array_equal(src.y, digits.y)
    np.testing.assert_array_equal(tgt.x, mnist.x)
    np.testing.assert_array_equal(tgt.y, mnist.y)
    back_src, back_tgt = data.domain_pair("mnist_to_digits", split=split, max_examples=50)
    np.testing.assert_array_equal(back_src.x, mnist.x[:50])
    np.testing.assert_array_equal(back_tgt.y, digits.y[:50])
  assert src.x.shape[1:] == tgt.x.shape[1:] == (28, 28, 1)
  # The protocol: no target test image is among the target training images.
  train_t = data.domain_pair("digits_to_mnist", split="train")[1]
  assert not _image_keys(train_t.x) & _image_keys(tgt.x)


def test_mnistm_pair_blends_the_odd_rows_with_photos_and_keeps_test_images_out():
  full = data.load("mnist_5k", "train", max_examples=200)
  src, tgt = data.domain_pair("mnist_to_mnistm", max_examples=100, seed=3)
  np.testing.assert_array_equal(src.x, np.repeat(full.x[0::2], 3, axis=-1))
  np.testing.assert_array_equal(tgt.y, full.y[1::2])
  np.testing.assert_array_equal(tgt.x, domain.blend_with_photos(3, full.x[1::2]))
  assert tgt.x.shape[1:] == (28, 28, 3) and 0.0 <= tgt.x.min() and tgt.x.max() <= 1.0
  # The test target is the blend of mnist_5k's test rows, none of them a training image.
  test = data.load("mnist_5k", "test")
  _, test_tgt = data.domain_pair("mnist_to_mnistm", split="test", seed=3)
  np.testing.assert_array_equal(test_tgt.y, test.y[1::2])
  np.testing.assert_array_equal(test_tgt.x, domain.blend_with_photos(3, test.x[1::2]))
  assert not _image_keys(test.x) & _image_keys(data.load("mnist_5k", "train").x)
