"""A minimal whitespace tokenizer for text datasets (TextCNN inputs)."""

from __future__ import annotations

import collections
import re
from typing import Sequence

import numpy as np

PAD, UNK = 0, 1
_TOKEN = re.compile(r"[\w']+")


def tokenize(texts: Sequence[str], *, max_len: int = 50, vocab_size: int = 20000,
             vocab: dict[str, int] | None = None) -> tuple[np.ndarray, dict[str, int]]:
  """Lower-cases, splits on non-word characters and maps words to ids.

  Args:
    texts: ``[N]`` strings.
    max_len: sequences are truncated/padded (with ``PAD = 0``) to this length.
    vocab_size: size of the vocabulary built from ``texts`` when ``vocab`` is None (ids 0 and 1
      are PAD and UNK; the ``vocab_size - 2`` most frequent words follow).
    vocab: an existing word -> id map (e.g. the training one, to encode the test split).

  Returns:
    ``(ids [N, max_len] int32, vocab)``.
  """
  if max_len <= 0 or vocab_size < 3:
    raise ValueError(f"max_len must be > 0 and vocab_size >= 3, got {max_len}, {vocab_size}.")
  words = [_TOKEN.findall(str(t).lower()) for t in texts]
  if vocab is None:
    counts = collections.Counter(w for ws in words for w in ws)
    vocab = {"<pad>": PAD, "<unk>": UNK}
    for w, _ in counts.most_common(vocab_size - 2):
      vocab[w] = len(vocab)
  ids = np.full((len(words), max_len), PAD, np.int32)
  for i, ws in enumerate(words):
    row = [vocab.get(w, UNK) for w in ws[:max_len]]
    ids[i, :len(row)] = row
  return ids, vocab
