"""The DWE experiment: the quick config end to end, and the paper-scale config's settings."""

import json

import numpy as np
import pytest

from experiments.dwe import train
from experiments.dwe.configs import default, fmnist_mid, quick


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
