"""Tokenizer, vocabulary and windows of wassml.text (bad input included)."""

import numpy as np
import pytest

from wassml.text import (PAD, PAD_ID, UNK, UNK_ID, Vocab, detokenize, make_windows,
                         split_windows, tokenize)


def test_tokenize_keeps_punctuation_and_inner_apostrophes():
  toks = tokenize("Hello, world! Don't panic -- it's well-known.")
  assert toks == ["hello", ",", "world", "!", "don't", "panic", "-", "-", "it's", "well-known",
                  "."]


def test_tokenize_multilingual_and_case():
  assert tokenize("Ça, c'est l'ÉCOLE!", lowercase=False) == ["Ça", ",", "c'est", "l'ÉCOLE", "!"]
  assert tokenize("castra propius hostem mouit") == ["castra", "propius", "hostem", "mouit"]


def test_tokenize_empty_and_blank():
  assert tokenize("") == []
  assert tokenize(" \n\t ") == []


def test_tokenize_unknown_characters():
  text = "a\x07b\u200bc\ue123"
  assert tokenize(text) == ["a", UNK, "b", UNK, "c", UNK]
  assert tokenize(text, unknown_chars="drop") == ["a", "b", "c"]
  with pytest.raises(ValueError, match=r"unknown character U\+0007 .*position 1"):
    tokenize(text, unknown_chars="strict")
  with pytest.raises(ValueError, match="valid modes"):
    tokenize("a", unknown_chars="ignore")
  with pytest.raises(TypeError, match="str"):
    tokenize(3)
  assert tokenize(b"caf\xc3\xa9 !") == ["café", "!"]


def test_vocab_build_encode_decode():
  voc = Vocab.build([["b", "a", "b"], ["c", "b", "a"]], min_count=2)
  assert voc.itos == (PAD, UNK, "b", "a")
  np.testing.assert_array_equal(voc.encode(["a", "zzz", "b"]), [3, UNK_ID, 2])
  assert voc.decode([2, 3, 0]) == ["b", "a", PAD]
  assert len(Vocab.build([["x"] * 3, ["y"]], max_size=3)) == 3
  with pytest.raises(ValueError, match="outside the vocabulary"):
    voc.decode([7])


def test_split_windows_pads_short_text_with_documented_token():
  w, m, s = split_windows([5, 6, 7], 5)
  np.testing.assert_array_equal(w, [[5, 6, 7, PAD_ID, PAD_ID]])
  np.testing.assert_array_equal(m, [[1, 1, 1, 0, 0]])
  np.testing.assert_array_equal(s, [0])


def test_split_windows_long_text():
  ids = np.arange(2, 14)  # 12 tokens
  w, m, s = split_windows(ids, 5)
  assert w.shape == (3, 5)
  np.testing.assert_array_equal(s, [0, 5, 10])
  np.testing.assert_array_equal(w[2], [12, 13, 0, 0, 0])
  assert m.sum() == 12
  w2, _, _ = split_windows(ids, 5, min_tokens=3)
  assert w2.shape == (2, 5)  # the 2-token remainder is dropped
  w3, _, s3 = split_windows(ids, 5, stride=4)
  np.testing.assert_array_equal(s3, [0, 4, 8])
  np.testing.assert_array_equal(w3[-1], [10, 11, 12, 13, 0])


def test_make_windows_labels_and_bad_input():
  win = make_windows([np.array([2, 3]), np.arange(2, 9)], [1, 0], 4)
  np.testing.assert_array_equal(win.labels, [1, 0, 0])
  np.testing.assert_array_equal(win.text_index, [0, 1, 1])
  assert len(win.take(win.labels == 0)) == 2
  with pytest.raises(ValueError, match="text 1 is empty"):
    make_windows([np.array([2]), np.array([], np.int32)], [0, 1], 4)
  with pytest.raises(ValueError, match="2 texts but 1 labels"):
    make_windows([np.array([2]), np.array([3])], [0], 4)
  with pytest.raises(ValueError, match="empty text"):
    split_windows([], 4)
  assert detokenize(["a", PAD, "b"]) == "a b"
