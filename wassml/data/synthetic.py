"""Synthetic 2-D datasets: two moons, the WAMiC three moons, blobs and circles.

Each split draws from its own seed (``seed`` and the split name), so train and test are
independent samples of the same distribution and a given ``(seed, split)`` is reproducible.
"""

from __future__ import annotations

import zlib

import numpy as np
from sklearn import datasets as skd

from wassml.data.dataset import Dataset

_SPLIT_IDS = {"train": 0, "test": 1, "validation": 2}


def _split_seed(seed: int, split: str, name: str) -> int:
  if split not in _SPLIT_IDS:
    raise ValueError(f"Unknown split {split!r} for {name!r}; valid splits: {sorted(_SPLIT_IDS)}.")
  return (zlib.crc32(name.encode()) + 7919 * seed + 104729 * _SPLIT_IDS[split]) % (2**31)


def _finish(x, y, k, name) -> Dataset:
  return Dataset(np.asarray(x, np.float32), np.asarray(y, np.int32), k, name)


def moons(split: str = "train", *, n_per_class: int = 500, noise: float = 0.1,
          seed: int = 0) -> Dataset:
  """Two interleaved half-moons (scikit-learn's ``make_moons``): ``x [2 n_per_class, 2]``."""
  rs = _split_seed(seed, split, "moons")
  x, y = skd.make_moons(2 * n_per_class, noise=noise, random_state=rs)
  return _finish(x, y, 2, f"moons:{split}")


def three_moons(split: str = "train", *, n_per_class: int = 1000, noise: float = 0.1,
                seed: int = 0) -> Dataset:
  """The "Three Moons" toy set of WAMiC (Harchaoui et al. 2018, sec. 4.2).

  The paper gives 3 classes of 1000 points in 2-D, clusters that are not linearly separable
  (its Fig. 2a). We build it as a chain of three interleaved half-moons: the two moons of
  ``make_moons`` (upper arc ``(cos t, sin t)``, lower arc ``(1 - cos t, 1/2 - sin t)``,
  ``t ~ U[0, pi]``) and a third upper arc shifted by ``(2, 0)``, plus isotropic Gaussian noise of
  standard deviation ``noise``.

  Returns:
    Dataset with ``x [3 n_per_class, 2]``, ``y`` in ``{0, 1, 2}``.
  """
  rng = np.random.default_rng(_split_seed(seed, split, "three_moons"))
  t = rng.uniform(0.0, np.pi, size=(3, n_per_class))
  arcs = [
      np.stack([np.cos(t[0]), np.sin(t[0])], -1),
      np.stack([1.0 - np.cos(t[1]), 0.5 - np.sin(t[1])], -1),
      np.stack([2.0 + np.cos(t[2]), np.sin(t[2])], -1),
  ]
  x = np.concatenate(arcs) + noise * rng.standard_normal((3 * n_per_class, 2))
  y = np.repeat(np.arange(3), n_per_class)
  perm = rng.permutation(3 * n_per_class)
  return _finish(x[perm], y[perm], 3, f"three_moons:{split}")


def blobs(split: str = "train", *, n_per_class: int = 300, num_classes: int = 3, dim: int = 2,
          cluster_std: float = 1.0, seed: int = 0) -> Dataset:
  """Isotropic Gaussian blobs; the centres depend on ``seed`` only (shared by all splits)."""
  centers = np.random.default_rng(seed).uniform(-8, 8, size=(num_classes, dim))
  rs = _split_seed(seed, split, "blobs")
  x, y = skd.make_blobs(n_per_class * num_classes, centers=centers, cluster_std=cluster_std,
                        random_state=rs)
  return _finish(x, y, num_classes, f"blobs:{split}")


def circles(split: str = "train", *, n_per_class: int = 500, noise: float = 0.05,
            factor: float = 0.5, seed: int = 0) -> Dataset:
  """Two concentric circles (``make_circles``)."""
  rs = _split_seed(seed, split, "circles")
  x, y = skd.make_circles(2 * n_per_class, noise=noise, factor=factor, random_state=rs)
  return _finish(x, y, 2, f"circles:{split}")


def digits(split: str = "train", *, test_fraction: float = 0.2) -> Dataset:
  """scikit-learn's real 8x8 digits (1797 images) as ``[N, 8, 8, 1]`` in ``[0, 1]``.

  A fixed shuffle (seed 0) splits them into train (80%) and test (20%).
  """
  if split not in ("train", "test"):
    raise ValueError(f"Unknown split {split!r} for 'digits'; valid splits: ['test', 'train'].")
  d = skd.load_digits()
  x = (d.images / 16.0).astype(np.float32)[..., None]
  perm = np.random.default_rng(0).permutation(len(x))
  n_test = int(round(test_fraction * len(x)))
  idx = perm[:n_test] if split == "test" else perm[n_test:]
  return Dataset(x[idx], d.target[idx].astype(np.int32), 10, f"digits:{split}")
