"""Fashion-MNIST from its IDX files (Debian package ``dataset-fashion-mnist``).

Files are looked up in ``$WASSML_DATA_DIR/fashion-mnist/``, then ``$WASSML_DATA_DIR/``, then
``/usr/share/datasets/fashion-mnist/``; each may be gzipped (``.gz``) or not.
"""

from __future__ import annotations

import functools
import gzip
import os
import pathlib

import numpy as np

from wassml.data.dataset import DataNotFoundError, Dataset

SYSTEM_DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")
INSTALL_HINT = (
    "Install it with `sudo apt-get install dataset-fashion-mnist` (puts the IDX files in "
    f"{SYSTEM_DIR}/), or point WASSML_DATA_DIR at a folder holding "
    "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
    "t10k-labels-idx1-ubyte.gz (on a machine with a network, the TFDS name is 'fashion_mnist')."
)
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot")
_PREFIX = {"train": "train", "test": "t10k"}


def candidate_dirs() -> list[pathlib.Path]:
  """Folders searched for the IDX files, first match wins."""
  dirs = []
  if os.environ.get("WASSML_DATA_DIR"):
    root = pathlib.Path(os.environ["WASSML_DATA_DIR"])
    dirs += [root / "fashion-mnist", root / "fashion_mnist", root]
  dirs.append(SYSTEM_DIR)
  return dirs


def _find(stem: str) -> pathlib.Path:
  for d in candidate_dirs():
    for suffix in (".gz", ""):
      p = d / (stem + suffix)
      if p.is_file():
        return p
  searched = ", ".join(str(d) for d in candidate_dirs())
  raise DataNotFoundError(f"Fashion-MNIST file {stem}[.gz] not found (searched {searched}). "
                          + INSTALL_HINT)


def read_idx(path: str | os.PathLike) -> np.ndarray:
  """Reads an IDX file (optionally gzipped) into a numpy array.

  Raises:
    ValueError: the file is not a valid IDX file (bad magic number or truncated).
  """
  path = pathlib.Path(path)
  opener = gzip.open if path.suffix == ".gz" else open
  try:
    with opener(path, "rb") as f:
      data = f.read()
  except (OSError, EOFError) as e:
    raise ValueError(f"Cannot read IDX file {path}: {e}") from e
  if len(data) < 4 or data[0] != 0 or data[1] != 0:
    raise ValueError(f"{path} is not an IDX file (bad magic number).")
  dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
  if data[2] not in dtypes:
    raise ValueError(f"{path}: unknown IDX data type 0x{data[2]:02x}.")
  ndim = data[3]
  dims = np.frombuffer(data, ">u4", count=ndim, offset=4).astype(int)
  dtype = np.dtype(dtypes[data[2]])
  expected = 4 + 4 * ndim + int(np.prod(dims)) * dtype.itemsize
  if len(data) != expected:
    raise ValueError(f"{path}: IDX file is truncated or corrupt ({len(data)} bytes, expected "
                     f"{expected}).")
  return np.frombuffer(data, dtype, offset=4 + 4 * ndim).reshape(dims)


@functools.lru_cache(maxsize=4)
def _load_arrays(split: str, paths: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
  images = read_idx(paths[0])
  labels = read_idx(paths[1])
  x = (images.astype(np.float32) / 255.0)[..., None]
  x.setflags(write=False)
  y = labels.astype(np.int32)
  y.setflags(write=False)
  return x, y


def fashion_mnist(split: str = "train") -> Dataset:
  """Fashion-MNIST ``split`` ('train': 60000, 'test': 10000) as ``x [N, 28, 28, 1]`` in [0, 1].

  Raises:
    DataNotFoundError: the IDX files are not installed (the message gives the apt command).
  """
  if split not in _PREFIX:
    raise ValueError(f"Unknown split {split!r} for 'fashion_mnist'; valid splits: "
                     f"{sorted(_PREFIX)}.")
  stem = _PREFIX[split]
  paths = (str(_find(f"{stem}-images-idx3-ubyte")), str(_find(f"{stem}-labels-idx1-ubyte")))
  x, y = _load_arrays(split, paths)
  return Dataset(x, y, 10, f"fashion_mnist:{split}")
