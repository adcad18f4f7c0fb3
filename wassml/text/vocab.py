"""Word vocabulary: token <-> id, with the padding token at id 0 and the unknown token at id 1."""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np

from wassml.text.tokenizer import PAD, UNK

PAD_ID = 0
UNK_ID = 1


@dataclasses.dataclass(frozen=True)
class Vocab:
  """An immutable vocabulary.

  Attributes:
    itos: the tokens, ``itos[0] == PAD``, ``itos[1] == UNK``, then by decreasing corpus count
      (ties broken alphabetically, so a vocabulary is reproducible).
    counts: ``[V]`` int64 training-corpus count of each token (0 for PAD and UNK).
  """
  itos: tuple[str, ...]
  counts: np.ndarray

  def __post_init__(self):
    if len(self.itos) < 2 or self.itos[0] != PAD or self.itos[1] != UNK:
      raise ValueError(f"a Vocab starts with ({PAD!r}, {UNK!r}); got {self.itos[:2]}")
    if len(self.counts) != len(self.itos):
      raise ValueError(f"counts has {len(self.counts)} entries for {len(self.itos)} tokens")
    object.__setattr__(self, "_stoi", {t: i for i, t in enumerate(self.itos)})

  @classmethod
  def build(cls, token_lists: Iterable[Sequence[str]], *, min_count: int = 1,
            max_size: int | None = None) -> "Vocab":
    """Builds a vocabulary from tokenised texts.

    Args:
      token_lists: the tokenised training texts.
      min_count: keep tokens seen at least this often.
      max_size: keep at most this many tokens (PAD and UNK included).

    Returns:
      The vocabulary.
    """
    if min_count < 1:
      raise ValueError(f"min_count must be >= 1, got {min_count}")
    if max_size is not None and max_size < 2:
      raise ValueError(f"max_size must be >= 2 (PAD and UNK), got {max_size}")
    counter = collections.Counter()
    for toks in token_lists:
      counter.update(t for t in toks if t not in (PAD, UNK))
    items = sorted((kv for kv in counter.items() if kv[1] >= min_count),
                   key=lambda kv: (-kv[1], kv[0]))
    if max_size is not None:
      items = items[:max_size - 2]
    itos = (PAD, UNK) + tuple(t for t, _ in items)
    counts = np.array([0, 0] + [c for _, c in items], dtype=np.int64)
    return cls(itos=itos, counts=counts)

  def __len__(self) -> int:
    return len(self.itos)

  def __contains__(self, token: str) -> bool:
    return token in self._stoi

  def id(self, token: str) -> int:
    """The id of ``token`` (:data:`UNK_ID` when it is not in the vocabulary)."""
    return self._stoi.get(token, UNK_ID)

  def encode(self, tokens: Sequence[str]) -> np.ndarray:
    """Token ids ``[len(tokens)]`` int32; unknown words map to :data:`UNK_ID`."""
    return np.fromiter((self._stoi.get(t, UNK_ID) for t in tokens), dtype=np.int32,
                       count=len(tokens))

  def decode(self, ids: Iterable[int]) -> list[str]:
    """Tokens of ``ids``; raises ``ValueError`` on an id outside ``[0, V)``."""
    out = []
    for i in ids:
      i = int(i)
      if not 0 <= i < len(self.itos):
        raise ValueError(f"token id {i} is outside the vocabulary [0, {len(self.itos)})")
      out.append(self.itos[i])
    return out
