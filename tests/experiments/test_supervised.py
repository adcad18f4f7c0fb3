"""The supervised experiment's quick config end to end (and its resume path)."""

import json

import pytest

from experiments.supervised import train
from experiments.supervised.configs import quick
from wassml.data import fashion_mnist as fm

HAVE_FMNIST = (fm.SYSTEM_DIR / "train-images-idx3-ubyte.gz").exists()


@pytest.mark.skipif(not HAVE_FMNIST, reason="sudo apt-get install dataset-fashion-mnist")
def test_quick_config(tmp_path):
  cfg = quick.get_config()
  res = train.train_and_evaluate(cfg, str(tmp_path))
  on_disk = json.loads((tmp_path / "results.json").read_text())
  for key in ("test_accuracy", "test_loss", "val_accuracy", "num_train", "num_test",
              "per_class_test_accuracy", "confusion_matrix", "steps", "config"):
    assert key in on_disk
  assert on_disk["num_train"] == cfg.max_train - cfg.num_val and on_disk["num_test"] == 1000
  assert res["test_accuracy"] > 0.6  # chance is 0.1
  assert sum(map(sum, res["confusion_matrix"])) == 1000
  assert abs(sum(r[i] for i, r in enumerate(res["confusion_matrix"])) / 1000
             - res["test_accuracy"]) < 1e-9
  for png in ("curves.png", "confusion.png"):
    assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
  # Started again, the run resumes from its final checkpoint: no step is redone.
  again = train.train_and_evaluate(cfg, str(tmp_path))
  assert again["resumed_from_step"] == res["steps"] == again["steps"]
  assert again["test_accuracy"] == res["test_accuracy"]


def test_pool_benchmark_runs_and_restores_the_pool():
  from experiments.supervised import bench_pool
  from wassml.nn import cnn
  before = cnn._pool
  res = bench_pool.run(batch=4, rounds=1)
  assert set(res) == set(bench_pool.MODELS)
  assert all(r["ratio"] > 0 for r in res.values())
  assert cnn._pool is before
