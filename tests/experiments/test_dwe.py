"""The DWE experiment: the quick config end to end, and the paper-scale config's settings."""

import json

import jax
import numpy as np
import pytest
from sklearn.datasets import load_digits

from experiments.dwe import train
from experiments.dwe.configs import default, fmnist_mid, quick
from wassml import train as wtrain
from wassml.embedding import dwe as dwe_lib
from wassml.embedding import pairs as pairs_lib


def test_quick_config_runs_and_learns(tmp_path):
  config = quick.get_config()
  results = train.train_and_evaluate(config, tmp_path)
  saved = json.loads((tmp_path / "results.json").read_text())
  for key in ("test_correlation", "test_mse", "test_relative_mse", "throughput", "barycenters",
              "interpolation", "pga", "machine", "num_train_pairs", "num_test_pairs"):
    assert key in saved, key
  assert saved["test_correlation"] == pytest.approx(results["test_correlation"])
  # held-out pairs of unseen images: a learned W2, far above the no-skill 0 correlation
  assert saved["test_correlation"] > 0.8
  assert saved["test_relative_mse"] < 0.15
  assert saved["num_train_pairs"] + saved["num_valid_pairs"] == config.num_train_pairs
  rows = {r["method"].split(" (")[0]: r for r in saved["throughput"]}
  assert set(rows) == {"exact LP", "wassml.ot.emd", "DWE independent", "DWE pairwise"}
  assert all(r["w2_per_second"] > 0 for r in rows.values())
  for png in ("w2_scatter.png", "barycenters.png", "interpolation.png", "pga.png"):
    assert (tmp_path / png).stat().st_size > 1000, png
  assert len(saved["pga"]["stddev"]) == 3
  assert np.all(np.diff(saved["pga"]["stddev"]) <= 0)


def _tiny_training_problem():
  """150 digit histograms and 300 random pairs with a cheap stand-in target (the squared L2
  distance): the resume test checks bookkeeping, not the quality of W2 estimates."""
  x = np.asarray(dwe_lib.as_model_input(load_digits().images[:150]))
  rng = np.random.default_rng(0)
  i1, i2 = rng.integers(0, len(x), (2, 300)).astype(np.int32)
  w2 = (1e3 * np.sum((x[i1] - x[i2]) ** 2, axis=(1, 2, 3))).astype(np.float32)
  pairs = pairs_lib.PairSet(i1, i2, w2)
  train_pairs, valid_pairs = pairs.split(0.8)
  config = quick.get_config()
  config.model.embedding_dim = 8
  config.train.batch_size = 40  # 6 steps per epoch
  config.train.learning_rate = 0.1  # a bumpy validation loss: the best epoch is not the last
  config.train.max_epochs = 9
  config.train.patience = 2
  return config, x, train_pairs, valid_pairs


def test_killed_training_resumes_to_the_uninterrupted_run(tmp_path, monkeypatch):
  """A DWE training killed after epoch 4 was evaluated (its new best params already saved, the
  epoch's checkpoint not yet) and started again ends with the params, history, best epoch and
  early stop of the uninterrupted run."""
  config, x, train_pairs, valid_pairs = _tiny_training_problem()
  key = jax.random.key(4)
  _, best, info = train.train_model(config, key, x, train_pairs, valid_pairs, tmp_path / "a")
  assert info["resumed_from_step"] == 0 and info["steps"] > 4 * 6
  assert info["stopped_by"] == "patience" and 4 < info["best_epoch"] < info["epochs"]
  losses = [h["valid_loss"] for h in info["history"]]
  assert losses[3] < min(losses[:3])  # epoch 4 is a new best: the kill falls after its save

  real_save = wtrain.Checkpointer.save

  def dying_save(self, step, tree, **kwargs):
    if self.directory.name == "dwe" and step == 4 * 6:
      raise KeyboardInterrupt("killed")
    return real_save(self, step, tree, **kwargs)

  monkeypatch.setattr(wtrain.Checkpointer, "save", dying_save)
  with pytest.raises(KeyboardInterrupt):
    train.train_model(config, key, x, train_pairs, valid_pairs, tmp_path / "b")
  monkeypatch.setattr(wtrain.Checkpointer, "save", real_save)
  _, best_b, info_b = train.train_model(config, key, x, train_pairs, valid_pairs, tmp_path / "b")
  assert info_b["resumed_from_step"] == 3 * 6
  for a, b in zip(jax.tree.leaves(best), jax.tree.leaves(best_b), strict=True):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
  for name in ("steps", "epochs", "stopped_early", "stopped_by", "best_epoch"):
    assert info_b[name] == info[name], name
  assert info_b["best_valid_loss"] == pytest.approx(info["best_valid_loss"], rel=1e-5)
  assert [h["epoch"] for h in info_b["history"]] == [h["epoch"] for h in info["history"]]
  np.testing.assert_allclose([h["valid_loss"] for h in info_b["history"]],
                             [h["valid_loss"] for h in info["history"]], rtol=1e-5)
  assert len(info["history"]) == info["epochs"]
  assert info["best_valid_loss"] == min(h["valid_loss"] for h in info["history"])
  # a finished run started again trains nothing and returns the same result
  _, best_c, info_c = train.train_model(config, key, x, train_pairs, valid_pairs, tmp_path / "a")
  assert info_c["resumed_from_step"] == info["steps"] and info_c["history"] == info["history"]
  for a, c in zip(jax.tree.leaves(best), jax.tree.leaves(best_c), strict=True):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(c))


def test_paper_scale_config_matches_the_issue():
  c = default.get_config()
  assert c.dataset == "fashion_mnist"
  assert c.num_train_pairs >= 100_000 and c.num_test_pairs >= 10_000
  assert c.model.embedding_dim == 50
  assert c.model.reconstruction_weight == 10.0 and c.model.sparsity_weight == 1e-3
  assert c.train.batch_size == 100 and c.train.patience == 3
  assert c.cross_dataset.enabled and len(c.cross_dataset.groups) == 2
  assert fmnist_mid.get_config().pairs.solver in ("pot", "wassml")


@pytest.mark.slow
def test_paper_scale_pipeline_on_tiny_fashion_mnist(tmp_path):
  """default.py's whole pipeline (pairs by wassml.ot.emd, cross-dataset table) at toy sizes."""
  c = default.get_config()
  c.num_train_images, c.num_test_images = 300, 100
  c.num_train_pairs, c.num_test_pairs = 10, 6
  c.pairs.parity_pairs = 1
  c.train.max_epochs = 1
  c.throughput.lp_pairs, c.throughput.wassml_pairs = 2, 1
  c.throughput.independent_pairs, c.throughput.pairwise_set_size = 20, 10
  c.barycenter_per_class = 5
  c.neighbours.num_queries, c.neighbours.database_size, c.neighbours.k = 1, 4, 2
  c.cross_dataset.num_train_images, c.cross_dataset.num_test_images = 100, 50
  c.cross_dataset.num_train_pairs, c.cross_dataset.num_test_pairs = 6, 4
  c.progress = False
  r = train.train_and_evaluate(c, tmp_path)
  assert r["parity_vs_pot"]["max_abs_diff"] < 1e-3
  assert set(r["cross_dataset"]["mse"]) == {"tops", "footwear", "all classes"}
