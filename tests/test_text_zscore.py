"""Z-scores and the z-score classifier against a brute-force Counter implementation."""

import collections
import math

import numpy as np
import pytest

from wassml.text import (ZScoreClassifier, class_word_counts, word_zscores, zscore_logits,
                         zscores)


def _brute_force(docs, labels, num_classes, vocab_size):
  per_class = [collections.Counter() for _ in range(num_classes)]
  for d, y in zip(docs, labels):
    per_class[y].update(d)
  total = collections.Counter()
  for c in per_class:
    total.update(c)
  n_all = sum(total.values())
  z = np.zeros((num_classes, vocab_size))
  for k in range(num_classes):
    n = sum(per_class[k].values())
    for w in range(vocab_size):
      p = total[w] / n_all
      if 0 < p < 1:
        z[k, w] = (per_class[k][w] - n * p) / math.sqrt(n * p * (1 - p))
  return z


def _random_windows(rng, n=40, length=9, vocab=12, k=3):
  ids = rng.integers(2, vocab, size=(n, length)).astype(np.int32)
  lens = rng.integers(1, length + 1, size=n)
  mask = np.arange(length)[None] < lens[:, None]
  ids = np.where(mask, ids, 0)
  labels = np.arange(n) % k
  return ids, mask, labels


def test_zscores_match_brute_force():
  rng = np.random.default_rng(0)
  ids, mask, labels = _random_windows(rng)
  counts = class_word_counts(ids, mask, labels, num_classes=3, vocab_size=12)
  docs = [list(r[m]) for r, m in zip(ids, mask)]
  np.testing.assert_allclose(zscores(counts), _brute_force(docs, labels, 3, 12), atol=1e-4)
  assert float(counts[:, 0].sum()) == 0.0  # padding is never counted


def test_zscore_classifier_is_argmax_of_summed_zscores():
  rng = np.random.default_rng(1)
  ids, mask, labels = _random_windows(rng)
  clf = ZScoreClassifier(3, 12).fit(ids, mask, labels)
  logits = np.asarray(clf.decision_function(ids, mask))
  z = np.asarray(clf.z)
  expect = np.array([[z[k, r[m]].sum() for k in range(3)] for r, m in zip(ids, mask)])
  np.testing.assert_allclose(logits, expect, rtol=1e-5, atol=1e-4)
  np.testing.assert_array_equal(clf.predict(ids, mask), expect.argmax(-1))
  wz = np.asarray(word_zscores(ids, mask, z, np.asarray(labels)))
  np.testing.assert_allclose(wz.sum(-1), expect[np.arange(len(labels)), labels], rtol=1e-5,
                             atol=1e-4)
  np.testing.assert_array_equal(zscore_logits(ids, mask, z).shape, (40, 3))


def test_zscore_classifier_separates_class_words():
  # Class k uses words {2 + 3k, 3 + 3k, 4 + 3k} plus shared noise word 11.
  rng = np.random.default_rng(2)
  labels = np.arange(60) % 3
  ids = np.stack([np.concatenate([rng.integers(2 + 3 * y, 5 + 3 * y, 6), [11, 11]])
                  for y in labels]).astype(np.int32)
  mask = np.ones_like(ids, bool)
  clf = ZScoreClassifier(3, 12).fit(ids, mask, labels)
  assert np.mean(np.asarray(clf.predict(ids, mask)) == labels) == 1.0
  assert np.allclose(np.asarray(clf.z)[:, 11], 0.0, atol=1e-5)  # same rate in every class


def test_zscore_bad_input():
  ids = np.array([[2, 3], [3, 2]], np.int32)
  mask = np.ones_like(ids, bool)
  counts = class_word_counts(ids, mask, [0, 0], num_classes=2, vocab_size=4)
  with pytest.raises(ValueError, match=r"class\(es\) \[1\] have no examples"):
    zscores(counts)
  with pytest.raises(ValueError, match="labels must lie"):
    class_word_counts(ids, mask, [0, 5], num_classes=2, vocab_size=4)
  with pytest.raises(ValueError, match="token ids must lie"):
    class_word_counts(ids + 9, mask, [0, 1], num_classes=2, vocab_size=4)
  with pytest.raises(ValueError, match="not fitted"):
    ZScoreClassifier(2, 4).predict(ids, mask)
  # p = 0 (unseen word) and p = 1 give 0, never NaN.
  z = np.asarray(zscores(np.array([[3.0, 0.0], [5.0, 0.0]])))
  assert np.all(np.isfinite(z)) and np.all(z == 0)
