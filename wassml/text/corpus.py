"""Labelled text that exists offline, and the text datasets wassml names.

* ``fortunes``: Debian's ``fortunes`` package (``/usr/share/games/fortunes``) holds ~15,000 real
  English texts (quotes, jokes, poems, definitions...) filed in ~40 named categories. A class is a
  category; texts are the ``%``-separated entries. Install with :data:`FORTUNES_INSTALL`.
* ``imdb_reviews``: the thesis's English set (TFDS, through ``tfds.data_source`` via
  :func:`wassml.data.load`); needs a network once, or a prepared TFDS ``data_dir``.
* ``planted``: synthetic texts with planted discriminative n-grams (see :mod:`wassml.text.planted`).

Every loader returns a :class:`wassml.data.Dataset` whose ``x`` is an object array of ``str``.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
from collections.abc import Sequence

import numpy as np

from wassml.data.dataset import DataNotFoundError, Dataset

FORTUNES_DIR = "/usr/share/games/fortunes"
FORTUNES_INSTALL = "sudo apt-get install -y --no-install-recommends fortunes"
"""The command that installs the offline corpus (the Makefile runs it as root, without sudo)."""
DEFAULT_CATEGORIES = ("computers", "politics", "science", "songs-poems")
"""Four large, distinct categories (~20-44k words each) for the fortunes classification task."""


def _fortunes_dir(fortunes_dir: str | None) -> pathlib.Path:
  d = pathlib.Path(fortunes_dir or os.environ.get("WASSML_FORTUNES_DIR", FORTUNES_DIR))
  if not d.is_dir() or not any(p.is_file() and p.suffix == ".dat" for p in d.iterdir()):
    raise DataNotFoundError(
        f"the offline text corpus (Debian 'fortunes') is missing: {d} does not hold the fortune "
        f"files. Install it with `{FORTUNES_INSTALL}` (or point $WASSML_FORTUNES_DIR at a copy).")
  return d


def fortune_categories(fortunes_dir: str | None = None) -> list[str]:
  """The category names available (files with a ``.dat`` index)."""
  d = _fortunes_dir(fortunes_dir)
  return sorted(p.stem for p in d.iterdir() if p.suffix == ".dat" and (d / p.stem).is_file())


def read_fortunes(category: str, fortunes_dir: str | None = None) -> list[str]:
  """The entries of one fortune file, with blank entries dropped.

  Raises:
    ValueError: unknown category (the message lists the valid ones).
    DataNotFoundError: the package is not installed (the message gives the command).
  """
  d = _fortunes_dir(fortunes_dir)
  path = d / category
  if not path.is_file() or not (d / f"{category}.dat").is_file():
    raise ValueError(f"unknown fortunes category {category!r}; valid ones: "
                     f"{fortune_categories(fortunes_dir)}")
  raw = path.read_bytes().decode("utf-8", errors="replace")
  entries = raw.replace("\r\n", "\n").split("\n%\n")
  return [e.strip("%\n") for e in entries if e.strip("%\n \t")]


def _in_test(text: str, seed: int, test_fraction: float) -> bool:
  h = hashlib.sha256(f"{seed}:{text}".encode("utf-8")).digest()
  return int.from_bytes(h[:8], "little") / 2.0**64 < test_fraction


def fortunes(split: str = "train", *, categories: Sequence[str] = DEFAULT_CATEGORIES,
             test_fraction: float = 0.1, seed: int = 0, max_examples: int | None = None,
             fortunes_dir: str | None = None) -> Dataset:
  """Debian fortunes as a labelled text dataset (one example per fortune entry).

  The train/test split is by entry (a hash of the entry's text and ``seed``), so no window of a
  test text is seen in training; entries that appear in two categories are kept in the first.

  Args:
    split: ``'train'`` (90% of entries by default), ``'test'`` or ``'all'``.
    categories: the classes, in label order.
    test_fraction: fraction of entries held out.
    seed: seed of the split.
    max_examples: keep at most this many entries (taken evenly from a seeded shuffle).
    fortunes_dir: where the fortune files are (default ``/usr/share/games/fortunes``).

  Returns:
    A :class:`~wassml.data.Dataset`, ``x`` an object array of ``str``.

  Raises:
    ValueError: bad split, fraction, duplicate/unknown category or a class with no examples.
    DataNotFoundError: the ``fortunes`` package is missing (names the install command).
  """
  if split not in ("train", "test", "all"):
    raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
  if not 0.0 < test_fraction < 1.0:
    raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
  categories = list(categories)
  if len(categories) < 2:
    raise ValueError(f"need at least 2 categories, got {categories}")
  if len(set(categories)) != len(categories):
    raise ValueError(f"duplicate categories in {categories}")
  texts, labels, seen = [], [], set()
  for k, cat in enumerate(categories):
    for e in read_fortunes(cat, fortunes_dir):
      if e in seen:
        continue
      seen.add(e)
      if split != "all" and _in_test(e, seed, test_fraction) != (split == "test"):
        continue
      texts.append(e)
      labels.append(k)
  y = np.asarray(labels, np.int32)
  missing = [categories[k] for k in range(len(categories)) if not np.any(y == k)]
  if missing:
    raise ValueError(f"class(es) {missing} have no examples in split {split!r}")
  x = np.empty(len(texts), dtype=object)
  x[:] = texts
  ds = Dataset(x, y, len(categories), f"fortunes:{split}")
  if max_examples is not None:
    if max_examples <= 0:
      raise ValueError(f"max_examples must be positive, got {max_examples}")
    perm = np.random.default_rng(seed).permutation(len(ds))[:max_examples]
    ds = ds.take(np.sort(perm))
  return ds


CORPORA = ("fortunes", "imdb_reviews", "planted")


def load_corpus(name: str, split: str = "train", **kwargs) -> Dataset:
  """Loads a labelled text corpus by name.

  Args:
    name: ``'fortunes'``, ``'imdb_reviews'`` (TFDS) or ``'planted'`` (synthetic).
    split: ``'train'`` or ``'test'``.
    **kwargs: the loader's options (see :func:`fortunes`, :func:`wassml.data.load`,
      :func:`wassml.text.planted.planted_corpus`).

  Returns:
    A :class:`~wassml.data.Dataset` of texts.
  """
  if name == "fortunes":
    return fortunes(split, **kwargs)
  if name == "imdb_reviews":
    from wassml.data import load  # pylint: disable=g-import-not-at-top
    return load("imdb_reviews", split, **kwargs)
  if name == "planted":
    from wassml.text.planted import planted_corpus  # pylint: disable=g-import-not-at-top
    return planted_corpus(split, **kwargs).dataset
  raise ValueError(f"unknown text corpus {name!r}; valid names: {list(CORPORA)}")
