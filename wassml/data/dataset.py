"""The in-memory dataset type every loader returns, and the missing-data error."""

from __future__ import annotations

import dataclasses

import numpy as np


class DataNotFoundError(FileNotFoundError, ValueError):
  """Offline data is missing; the message names the exact command that installs it."""


@dataclasses.dataclass(frozen=True)
class Dataset:
  """Arrays with labels.

  Attributes:
    x: ``[N, ...]`` inputs. Images are float32 ``[N, H, W, C]`` in ``[0, 1]``; vectors float32
      ``[N, D]``; text is an object array of ``str`` ``[N]`` (see :func:`wassml.data.tokenize`).
    y: ``[N]`` int32 labels in ``[0, num_classes)``.
    num_classes: number of classes.
    name: registry name (with the split), for logs.
  """

  x: np.ndarray
  y: np.ndarray
  num_classes: int
  name: str

  def __post_init__(self):
    if len(self.x) != len(self.y):
      raise ValueError(f"Dataset {self.name!r}: x has {len(self.x)} rows but y has {len(self.y)}.")

  def __len__(self) -> int:
    return len(self.y)

  @property
  def shape(self) -> tuple[int, ...]:
    """Shape of one example."""
    return tuple(self.x.shape[1:])

  def take(self, indices) -> "Dataset":
    """Returns the rows ``indices`` (an int array or a slice) as a new Dataset."""
    return dataclasses.replace(self, x=self.x[indices], y=self.y[indices])

  def head(self, n: int | None) -> "Dataset":
    """Returns the first ``n`` rows (all when ``n`` is None)."""
    if n is None:
      return self
    if n <= 0:
      raise ValueError(f"max_examples must be positive, got {n}.")
    return self.take(slice(0, n))

  def filter_classes(self, classes) -> "Dataset":
    """Keeps the rows whose label is in ``classes`` (labels are not renumbered)."""
    keep = np.isin(self.y, np.asarray(list(classes)))
    return self.take(np.nonzero(keep)[0])
