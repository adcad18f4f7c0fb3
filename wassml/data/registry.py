"""One registry for every dataset: ``load(name, split)`` and ``list_datasets()``."""

from __future__ import annotations

from typing import Any, Callable

from wassml.data import fashion_mnist as _fm
from wassml.data import real_digits as _real
from wassml.data import synthetic as _syn
from wassml.data import tfds_source as _tfds
from wassml.data.dataset import Dataset

def _fortunes(split: str = "train", **kwargs: Any) -> Dataset:
  """Debian's fortunes as labelled texts (lazy import: the text family is optional)."""
  from wassml.text.corpus import fortunes  # pylint: disable=import-outside-toplevel
  return fortunes(split, **kwargs)


# Offline loaders: name -> fn(split, **kwargs) -> Dataset.
_OFFLINE: dict[str, Callable[..., Dataset]] = {
    "moons": _syn.moons,
    "three_moons": _syn.three_moons,
    "blobs": _syn.blobs,
    "circles": _syn.circles,
    "digits": _syn.digits,
    "digits_28": _real.digits_28,
    "mnist_5k": _real.mnist_5k,
    "fashion_mnist": _fm.fashion_mnist,
    "fortunes": _fortunes,
}
# TFDS datasets reachable by their plain name (any other TFDS name works as 'tfds:<name>').
_TFDS = [n for n in _tfds.TFDS_DATASETS if n not in _OFFLINE]


def list_datasets() -> list[str]:
  """Names accepted by :func:`load` (plus any ``'tfds:<name>'``)."""
  return sorted(_OFFLINE) + sorted(_TFDS)


def is_offline(name: str) -> bool:
  """Whether ``name`` loads without a network."""
  return name in _OFFLINE


def load(name: str, split: str = "train", *, max_examples: int | None = None,
         **kwargs: Any) -> Dataset:
  """Loads a dataset by name.

  Args:
    name: one of :func:`list_datasets` or ``'tfds:<tfds name>'``.
    split: ``'train'`` or ``'test'`` (synthetic sets also accept ``'validation'``; TFDS accepts
      its own split strings).
    max_examples: keep the first ``max_examples`` rows.
    **kwargs: loader options (e.g. ``n_per_class``, ``noise``, ``seed`` for synthetic sets;
      ``data_dir``, ``download`` for TFDS).

  Returns:
    A :class:`Dataset`.

  Raises:
    ValueError: unknown name (the message lists the valid ones).
    DataNotFoundError: offline data missing (the message gives the install command).
  """
  if not isinstance(name, str):
    raise TypeError(f"Dataset name must be a str, got {type(name).__name__}.")
  if name in _OFFLINE:
    return _OFFLINE[name](split, **kwargs).head(max_examples)
  if name in _TFDS or name.startswith("tfds:"):
    tname = name.split(":", 1)[1] if name.startswith("tfds:") else name
    return _tfds.load_tfds(tname, split, max_examples=max_examples, **kwargs)
  raise ValueError(f"Unknown dataset {name!r}; valid names: {list_datasets()} "
                   "(or 'tfds:<name>' for any TFDS dataset).")
