"""The text_saliency quick config end to end (CI), and the paper-scale default config on mocked
TFDS imdb_reviews records with tiny sizes."""

import json
import pathlib

import numpy as np
import pytest

from experiments.text_saliency import train
from experiments.text_saliency.configs import default, quick
from wassml.text import FORTUNES_INSTALL
from wassml.text.corpus import FORTUNES_DIR
from tests.fixtures import Killed

_HAVE_FORTUNES = pathlib.Path(FORTUNES_DIR, "computers").is_file()


@pytest.mark.skipif(not _HAVE_FORTUNES,
                    reason=f"Debian fortunes corpus missing; install: {FORTUNES_INSTALL}")
def test_quick_config(tmp_path):
  r = train.train_and_evaluate(quick.get_config(), str(tmp_path))
  saved = json.loads((tmp_path / "results.json").read_text())
  for key in ("cnn_accuracy", "zscore_accuracy", "mean_correlation"):
    assert key in saved and np.isfinite(saved[key]), key
  chance = 1 / 4
  assert r["cnn_accuracy"] > chance + 0.2, r["cnn_accuracy"]  # 0.57 measured
  assert r["zscore_accuracy"] > chance + 0.1, r["zscore_accuracy"]  # 0.44 measured
  assert -1.0 <= r["mean_correlation"] <= 1.0
  assert r["planted"]["cnn_accuracy"] >= 0.9
  assert r["planted"]["precision_at_1_abs"] >= 0.7
  assert r["planted"]["precision_at_k_abs"] > 3 * r["planted"]["chance_precision"]
  for name in ("accuracy.png", "correlation.png", "training.png", "saliency.html",
               "example_0.png"):
    assert (tmp_path / name).stat().st_size > 1000, name
  html = (tmp_path / "saliency.html").read_text(encoding="utf-8")
  assert "Text Deconvolution Saliency" in html and "z-score" in html


def test_default_config_on_mocked_imdb(tmp_path):
  tfds = pytest.importorskip("tensorflow_datasets")
  c = default.get_config()
  assert (c.dataset, c.window, c.embed_dim, c.num_filters, c.kernel_width, c.hidden) == (
      "imdb_reviews", 50, 128, 512, 3, 100)
  # Tiny sizes, same code path as the paper-scale run.
  c.max_train_texts, c.max_test_texts = 40, 20
  c.data_kwargs.download = False
  c.min_count, c.min_tokens = 1, 1
  c.embed_dim, c.num_filters, c.hidden = 8, 8, 8
  c.skipgram_steps, c.skipgram_batch_size = 20, 64
  c.num_epochs, c.batch_size = 1, 16
  c.seeds = (0,)
  c.progress = False
  c.planted.enabled = False
  c.num_examples, c.num_rendered = 2, 1
  with tfds.testing.mock_data(num_examples=40):
    r = train.train_and_evaluate(c, str(tmp_path))
  assert r["data"]["train_texts"] > 0 and r["data"]["test_windows"] > 0
  assert 0.0 <= r["cnn_accuracy"] <= 1.0 and 0.0 <= r["zscore_accuracy"] <= 1.0
  # No NaN leaks into results.json (strict JSON): undefined statistics are null.
  json.loads((tmp_path / "results.json").read_text(),
             parse_constant=lambda c: pytest.fail(f"non-JSON constant {c} in results.json"))
  assert (tmp_path / "results.json").exists() and (tmp_path / "saliency.html").exists()


@pytest.mark.slow
@pytest.mark.skipif(not _HAVE_FORTUNES,
                    reason=f"Debian fortunes corpus missing; install: {FORTUNES_INSTALL}")
def test_mid_config(tmp_path):
  """The committed full-corpus run (~15-20 min on a shared 2-core CPU)."""
  from experiments.text_saliency.configs import mid  # pylint: disable=g-import-not-at-top
  r = train.train_and_evaluate(mid.get_config(), str(tmp_path))
  assert len(r["cnn_accuracy_per_seed"]) == 3
  assert min(r["cnn_accuracy_per_seed"]) > r["zscore_accuracy"] > 0.4
  assert r["planted"]["precision_at_1_abs"] >= 0.9


def test_killed_run_resumes_and_matches_an_uninterrupted_run(tmp_path, monkeypatch):
  """Two seeds' TextCNNs trained together (planted corpus, no download): a run killed in the
  CNN's second epoch, started again in its workdir, resumes from the first epoch's checkpoint
  and ends with the same accuracies, saliency correlations and training curves."""
  import ml_collections  # pylint: disable=g-import-not-at-top
  from wassml import train as wtrain  # pylint: disable=g-import-not-at-top
  c = quick.get_config()
  c.dataset = "planted"
  c.data_kwargs = ml_collections.ConfigDict(dict(num_texts=240, length=40, vocab_size=60))
  c.class_names = []
  c.max_train_texts = c.max_test_texts = -1
  c.window, c.min_tokens = 40, 5
  c.skipgram_steps, c.skipgram_batch_size = 20, 128
  c.embed_dim, c.num_filters, c.hidden, c.num_epochs, c.batch_size = 8, 8, 8, 3, 40
  c.seeds = (0, 1)
  c.planted.enabled = False
  c.num_examples, c.num_rendered = 2, 1
  ref = train.train_and_evaluate(c, str(tmp_path / "ref"))
  spe = 240 // 40
  kill_at = spe + 2

  class Killing(wtrain.EpochBatches):
    def __call__(self, i, s=None):
      if i == kill_at:
        raise Killed()
      return super().__call__(i, s)

  monkeypatch.setattr(wtrain, "EpochBatches", Killing)
  with pytest.raises(Killed):
    train.train_and_evaluate(c, str(tmp_path / "run"))
  monkeypatch.undo()
  got = train.train_and_evaluate(c, str(tmp_path / "run"))
  assert ref["resumed_from_step"] == 0 and got["resumed_from_step"] == spe
  for key in ("cnn_accuracy_per_seed", "mean_correlation_per_seed", "final_train_accuracy"):
    np.testing.assert_allclose(got[key], ref[key], rtol=1e-5, err_msg=key)
