"""Fixed-length word windows (50 words in the thesis, A.2.5).

A text is cut into consecutive windows of ``length`` tokens. A text (or a last piece) shorter
than the window is padded at the end with :data:`wassml.text.tokenizer.PAD` (id
:data:`wassml.text.vocab.PAD_ID` = 0); the returned mask is ``False`` there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from wassml.text.vocab import PAD_ID


@dataclasses.dataclass(frozen=True)
class Windows:
  """Windows cut from a set of texts.

  Attributes:
    ids: ``[N, L]`` int32 token ids, padded with ``PAD_ID``.
    mask: ``[N, L]`` bool, ``True`` on real tokens.
    labels: ``[N]`` int32 class of the text each window comes from.
    text_index: ``[N]`` int32 index of that text.
    start: ``[N]`` int32 position of the window's first token in its text.
  """
  ids: np.ndarray
  mask: np.ndarray
  labels: np.ndarray
  text_index: np.ndarray
  start: np.ndarray

  def __len__(self) -> int:
    return int(self.ids.shape[0])

  def take(self, idx) -> "Windows":
    """The windows at ``idx`` (indices or a boolean mask)."""
    return Windows(*(np.asarray(a)[idx] for a in dataclasses.astuple(self)))


def split_windows(ids: Sequence[int] | np.ndarray, length: int, *, stride: int | None = None,
                  min_tokens: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Cuts one token-id sequence into windows.

  Args:
    ids: ``[T]`` token ids of one text.
    length: window length ``L``.
    stride: step between window starts (default ``length``: non-overlapping).
    min_tokens: a last, partial window is kept only if it holds at least this many real
      tokens (a text shorter than the window always gives one padded window).

  Returns:
    ``windows [n, L]`` int32, ``mask [n, L]`` bool, ``starts [n]`` int32.

  Raises:
    ValueError: empty text, or ``length``/``stride`` not positive.
  """
  ids = np.asarray(ids, dtype=np.int32).reshape(-1)
  if length < 1:
    raise ValueError(f"window length must be >= 1, got {length}")
  stride = length if stride is None else stride
  if stride < 1:
    raise ValueError(f"window stride must be >= 1, got {stride}")
  if ids.size == 0:
    raise ValueError("cannot cut windows from an empty text (no tokens after tokenisation); "
                     "drop empty texts before windowing")
  starts = list(range(0, max(ids.size - length, 0) + 1, stride))
  last = starts[-1] + length
  if last < ids.size:  # a remainder after the last full window
    nxt = starts[-1] + stride
    if ids.size - nxt >= min_tokens:
      starts.append(nxt)
  windows = np.full((len(starts), length), PAD_ID, dtype=np.int32)
  mask = np.zeros((len(starts), length), dtype=bool)
  for r, s in enumerate(starts):
    piece = ids[s:s + length]
    windows[r, :piece.size] = piece
    mask[r, :piece.size] = True
  return windows, mask, np.asarray(starts, dtype=np.int32)


def make_windows(texts_ids: Sequence[np.ndarray], labels: Sequence[int] | np.ndarray,
                 length: int = 50, *, stride: int | None = None,
                 min_tokens: int = 1) -> Windows:
  """Cuts every text into windows (see :func:`split_windows`).

  Args:
    texts_ids: the texts, each ``[T_i]`` token ids.
    labels: ``[num_texts]`` class of each text.
    length: window length (50 in the thesis).
    stride: step between windows (default ``length``).
    min_tokens: smallest number of real tokens of a kept partial last window.

  Returns:
    The :class:`Windows` of all texts, in text order.

  Raises:
    ValueError: ``labels`` of the wrong length, no texts, or an empty text (named by index).
  """
  labels = np.asarray(labels, dtype=np.int32).reshape(-1)
  if len(texts_ids) != labels.size:
    raise ValueError(f"{len(texts_ids)} texts but {labels.size} labels")
  if len(texts_ids) == 0:
    raise ValueError("no texts to cut into windows")
  parts = []
  for i, ids in enumerate(texts_ids):
    if np.asarray(ids).size == 0:
      raise ValueError(f"text {i} is empty (no tokens after tokenisation); drop it or give "
                       "it some text")
    w, m, s = split_windows(ids, length, stride=stride, min_tokens=min_tokens)
    parts.append((w, m, np.full(len(w), labels[i], np.int32), np.full(len(w), i, np.int32), s))
  return Windows(*(np.concatenate(c) for c in zip(*parts)))
