"""Synthetic texts with planted discriminative n-grams: the saliency check that cannot be fooled.

Background words ``w000, w001, ...`` are drawn from one Zipf law shared by every class, so they
carry no class information. Each text of class ``k`` then receives ``plants_per_text`` copies of
the class's planted n-gram at random, non-overlapping places. Two kinds:

* ``kind='order'`` (default): the n-gram of class ``k`` is the ``k``-th rotation of one base
  n-gram ``(m0, m1, ..., m_{n-1})`` (class 0: ``m0 m1 m2``, class 1: ``m1 m2 m0``...). Every class
  then holds exactly the same marker words the same number of times: word frequencies, and so
  z-scores, cannot tell the classes apart; only the order (a co-occurrence) can.
* ``kind='words'``: each class gets its own marker words, which the z-score also finds.

The planted positions are returned, so a saliency can be scored by precision@k.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from wassml.data.dataset import Dataset


@dataclasses.dataclass(frozen=True)
class PlantedCorpus:
  """Synthetic texts and where their planted words are.

  Attributes:
    dataset: texts (object array of ``str``, whitespace-separated words) and labels.
    planted: one bool array per text, ``True`` on the planted words' positions.
    ngrams: the planted n-gram of each class.
  """
  dataset: Dataset
  planted: list[np.ndarray]
  ngrams: list[tuple[str, ...]]


def planted_corpus(split: str = "train", *, num_texts: int = 400, num_classes: int = 2,
                   length: int = 50, vocab_size: int = 200, ngram: int = 3,
                   plants_per_text: int = 1, kind: str = "order", zipf: float = 1.1,
                   seed: int = 0) -> PlantedCorpus:
  """Generates texts of ``length`` words with planted class n-grams.

  Args:
    split: ``'train'`` or ``'test'`` (different random streams of the same task).
    num_texts: number of texts (classes balanced, in random order).
    num_classes: ``K`` (``kind='order'`` needs ``K <= ngram``).
    length: words per text.
    vocab_size: number of background words.
    ngram: planted n-gram length.
    plants_per_text: planted copies per text.
    kind: ``'order'`` or ``'words'`` (see the module docstring).
    zipf: exponent of the background word law.
    seed: the task's seed.

  Returns:
    A :class:`PlantedCorpus`.
  """
  if split not in ("train", "test"):
    raise ValueError(f"split must be 'train' or 'test', got {split!r}")
  if kind not in ("order", "words"):
    raise ValueError(f"kind must be 'order' or 'words', got {kind!r}")
  if num_classes < 2:
    raise ValueError(f"num_classes must be >= 2, got {num_classes}")
  if kind == "order" and num_classes > ngram:
    raise ValueError(f"kind='order' needs num_classes <= ngram, got {num_classes} > {ngram}")
  if plants_per_text < 0 or plants_per_text * (ngram + 1) > length + 1:
    raise ValueError(f"{plants_per_text} plants of {ngram} words do not fit apart in {length} "
                     "words")
  rng = np.random.default_rng([seed, 0 if split == "train" else 1])
  if kind == "order":
    base = [f"m{i}" for i in range(ngram)]
    ngrams = [tuple(base[k:] + base[:k]) for k in range(num_classes)]
  else:
    ngrams = [tuple(f"c{k}m{i}" for i in range(ngram)) for k in range(num_classes)]
  probs = 1.0 / np.arange(1, vocab_size + 1) ** zipf
  probs /= probs.sum()
  labels = rng.permutation(np.arange(num_texts) % num_classes).astype(np.int32)
  texts, planted = [], []
  for y in labels:
    words = [f"w{i:03d}" for i in rng.choice(vocab_size, size=length, p=probs)]
    mask = np.zeros(length, bool)
    # Non-overlapping, non-adjacent plants (two touching rotations would form another class's
    # n-gram): distinct gaps leave at least one background word between two plants.
    free = length - plants_per_text * ngram
    gaps = np.sort(rng.choice(free + 1, size=plants_per_text, replace=False))
    for j, g in enumerate(gaps):
      s = g + j * ngram
      words[s:s + ngram] = ngrams[y]
      mask[s:s + ngram] = True
    texts.append(" ".join(words))
    planted.append(mask)
  x = np.empty(num_texts, dtype=object)
  x[:] = texts
  return PlantedCorpus(Dataset(x, labels, num_classes, f"planted_{kind}:{split}"), planted,
                       ngrams)
