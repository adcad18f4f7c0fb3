"""Offline fortunes corpus (fake files and, when installed, the real package), TFDS imdb_reviews
on mocked records, and the planted corpus generator."""

import pathlib

import numpy as np
import pytest

from wassml.data.dataset import DataNotFoundError
from wassml.text import (FORTUNES_INSTALL, fortune_categories, fortunes, load_corpus,
                         planted_corpus, read_fortunes, tokenize)
from wassml.text.corpus import FORTUNES_DIR


def _fake_fortunes(tmp_path, cats):
  for name, entries in cats.items():
    (tmp_path / name).write_text("\n%\n".join(entries) + "\n%\n", encoding="utf-8")
    (tmp_path / f"{name}.dat").write_bytes(b"\0" * 8)
  return str(tmp_path)


def test_fortunes_from_files(tmp_path):
  d = _fake_fortunes(tmp_path, {
      "cats": [f"The cat {i} sat on the mat." for i in range(40)] + ["", "  "],
      "dogs": [f"A dog {i} barks, loudly!" for i in range(30)],
  })
  assert fortune_categories(d) == ["cats", "dogs"]
  assert len(read_fortunes("cats", d)) == 40  # blank entries dropped
  tr = fortunes("train", categories=["cats", "dogs"], fortunes_dir=d, test_fraction=0.25)
  te = fortunes("test", categories=["cats", "dogs"], fortunes_dir=d, test_fraction=0.25)
  assert len(tr) + len(te) == 70
  assert not set(tr.x) & set(te.x)  # split by entry: no leakage
  assert tr.num_classes == 2 and set(np.unique(tr.y)) == {0, 1}
  again = fortunes("train", categories=["cats", "dogs"], fortunes_dir=d, test_fraction=0.25)
  np.testing.assert_array_equal(again.x, tr.x)  # deterministic
  assert len(fortunes("all", categories=["cats", "dogs"], fortunes_dir=d, max_examples=9)) == 9


def test_fortunes_bad_input(tmp_path):
  d = _fake_fortunes(tmp_path, {"cats": ["meow"] * 1 + ["purr"], "empty": [""]})
  with pytest.raises(ValueError, match=r"unknown fortunes category 'birds'; valid ones: "):
    fortunes(categories=["cats", "birds"], fortunes_dir=d)
  with pytest.raises(ValueError, match=r"\['empty'\] have no examples"):
    fortunes("all", categories=["cats", "empty"], fortunes_dir=d)
  with pytest.raises(ValueError, match="split must be"):
    fortunes("validation", fortunes_dir=d)
  with pytest.raises(DataNotFoundError, match="apt-get install -y .*fortunes"):
    fortunes(fortunes_dir=str(tmp_path / "nowhere"))
  assert "apt-get install" in FORTUNES_INSTALL
  with pytest.raises(ValueError, match="unknown text corpus 'reuters'; valid names"):
    load_corpus("reuters")


@pytest.mark.skipif(not pathlib.Path(FORTUNES_DIR, "computers").is_file(),
                    reason=f"Debian fortunes not installed ({FORTUNES_INSTALL})")
def test_real_fortunes_corpus():
  tr = load_corpus("fortunes", "train")
  te = load_corpus("fortunes", "test")
  assert tr.num_classes == 4 and len(tr) > 2000 and len(te) > 150
  assert np.bincount(te.y).min() > 20
  assert all(tokenize(t) for t in tr.x[:200])


def test_imdb_reviews_through_tfds_data_source_on_mock_data():
  tfds = pytest.importorskip("tensorflow_datasets")
  with tfds.testing.mock_data(num_examples=6):
    ds = load_corpus("imdb_reviews", "train", download=False)
  assert len(ds) == 6 and ds.num_classes == 2
  assert all(isinstance(t, str) for t in ds.x)
  assert set(np.unique(ds.y)) <= {0, 1}


def test_planted_corpus_structure():
  pc = planted_corpus("train", num_texts=30, num_classes=3, length=20, ngram=3,
                      plants_per_text=2)
  assert pc.ngrams == [("m0", "m1", "m2"), ("m1", "m2", "m0"), ("m2", "m0", "m1")]
  for text, rel, y in zip(pc.dataset.x, pc.planted, pc.dataset.y):
    words = text.split()
    assert len(words) == 20 and rel.sum() == 6
    assert [w for w, r in zip(words, rel) if r] == list(pc.ngrams[y]) * 2
  # Every class holds the marker words equally often: frequencies cannot tell them apart.
  counts = {k: sum(t.split().count("m0") for t, y in zip(pc.dataset.x, pc.dataset.y) if y == k)
            for k in range(3)}
  assert len(set(counts.values())) == 1
  te = planted_corpus("test", num_texts=30, num_classes=3, length=20)
  assert list(te.dataset.x) != list(pc.dataset.x)
  with pytest.raises(ValueError, match="num_classes <= ngram"):
    planted_corpus(num_classes=4, ngram=3)
