"""TFDS datasets through ``tfds.data_source`` (random access, no TensorFlow needed).

``source(name, split)`` returns the random-access source itself (``len(src)``, ``src[i]`` is a
dict of numpy features) for sets too large to hold in memory; ``load_tfds`` materialises
``max_examples`` rows into a :class:`~wassml.data.Dataset`. Offline, tests fake the records with
``tfds.testing.mock_data`` (which works with ``data_source`` in tfds 4.9.10 under the default
policy; no TensorFlow is imported).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from wassml.data.dataset import DataNotFoundError, Dataset

# Datasets of the seeds (and their usual companions) known to load with their image/label keys.
IMAGE_DATASETS = {
    "mnist": 10, "svhn_cropped": 10, "cifar10": 10, "cifar100": 100, "fashion_mnist": 10,
    "emnist": 62, "kmnist": 10,
}
TEXT_DATASETS = {"imdb_reviews": 2, "ag_news_subset": 4}
TFDS_DATASETS = sorted(IMAGE_DATASETS) + sorted(TEXT_DATASETS)


def _tfds():
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  return tfds


def source(name: str, split: str = "train", *, data_dir: str | None = None,
           download: bool | None = None) -> Any:
  """Returns ``tfds.data_source(name, split=split)``, a random-access source of dict records.

  Args:
    name: TFDS name, e.g. ``'mnist'``, ``'svhn_cropped'``, ``'imdb_reviews'``.
    split: TFDS split string (``'train'``, ``'test'``, ``'train[:10%]'``...).
    data_dir: TFDS data folder (default: ``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``).
    download: whether TFDS may download and prepare the set; default from
      ``$WASSML_TFDS_DOWNLOAD`` (``'0'`` disables), else True.

  Raises:
    DataNotFoundError: the dataset is not prepared and cannot be downloaded here.
  """
  tfds = _tfds()
  if download is None:
    download = os.environ.get("WASSML_TFDS_DOWNLOAD", "1") != "0"
  try:
    return tfds.data_source(name, split=split, data_dir=data_dir, download=download)
  except Exception as e:  # pylint: disable=broad-except
    if isinstance(e, DataNotFoundError):
      raise
    raise DataNotFoundError(
        f"TFDS dataset {name!r} (split {split!r}) is not available here "
        f"({type(e).__name__}: {str(e)[:200]}). On a machine with a network, prepare it with "
        f"`python -c \"import tensorflow_datasets as tfds; tfds.data_source('{name}')\"` "
        f"(or `tfds build {name}`), then copy the TFDS data_dir here.") from e


def _image(record) -> np.ndarray:
  for key in ("image", "img"):
    if key in record:
      return np.asarray(record[key])
  raise KeyError(f"no image feature in {sorted(record)}")


def load_tfds(name: str, split: str = "train", *, max_examples: int | None = None,
              data_dir: str | None = None, download: bool | None = None) -> Dataset:
  """Materialises a TFDS image or text dataset into a :class:`Dataset`.

  Images become float32 ``[N, H, W, C]`` in [0, 1]; text (``imdb_reviews``...) becomes an object
  array of ``str`` (tokenise with :func:`wassml.data.tokenize`).
  """
  src = source(name, split, data_dir=data_dir, download=download)
  n = len(src) if max_examples is None else min(max_examples, len(src))
  records = [src[i] for i in range(n)]
  y = np.asarray([int(r["label"]) for r in records], np.int32)
  if name in TEXT_DATASETS:
    def _dec(t):
      t = np.asarray(t).item() if not isinstance(t, (bytes, str)) else t
      return t.decode("utf-8", "replace") if isinstance(t, bytes) else str(t)
    x = np.asarray([_dec(r["text"]) for r in records], dtype=object)
    k = TEXT_DATASETS[name]
  else:
    x = np.stack([_image(r) for r in records]).astype(np.float32) / 255.0
    k = IMAGE_DATASETS.get(name, int(y.max()) + 1 if len(y) else 0)
  return Dataset(x, y, k, f"{name}:{split}")
