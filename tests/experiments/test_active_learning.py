"""The active-learning quick config end to end (digits, MLP, random vs DFAL, a prototype toy)."""

import json

import numpy as np

from experiments.active_learning import train
from experiments.active_learning.configs import quick


def test_quick_config(tmp_path):
  config = quick.get_config()
  results = train.train_and_evaluate(config, str(tmp_path))
  saved = json.loads((tmp_path / "results.json").read_text())
  for key in ("dfal_auc", "random_auc", "full_data_accuracy", "table_4_2", "curves", "targets", "prototypes"):
    assert key in saved, key
  assert saved["dfal_auc"] == results["dfal_auc"]
  # ten classes: chance is 0.1; the learning curves must be far above it and rise with labels
  assert saved["full_data_accuracy"] > 0.9
  assert saved["random_auc"] > 0.4 and saved["dfal_auc"] > 0.4
  for name in ("random", "dfal"):
    acc = np.asarray(saved["curves"][name]["accuracy_mean"])
    assert acc.shape == (len(config.schedule),)
    assert acc[-1] > acc[0] + 0.15
  # DFAL trains on its queries plus their adversarial copies
  assert saved["curves"]["dfal"]["num_train_mean"][-1] == 2 * config.schedule[-1] - config.schedule[0]
  circle = saved["prototypes"]["circle"]
  assert circle["exact_below_random_every_k"]
  assert (tmp_path / "learning_curves.png").exists() and (tmp_path / "prototypes_circle.png").exists()


def test_default_config_is_paper_scale():
  from experiments.active_learning.configs import default
  from wassml.active_learning import list_strategies

  c = default.get_config()
  assert c.dataset == "fashion_mnist" and c.model == "lenet5" and c.num_seeds == 3
  assert c.schedule[0] == 10 and c.schedule[-1] == 1000
  assert sorted(c.strategies) == list_strategies()
  assert c.pool_size == 0 and c.test_size == 0  # the whole 60k / 10k
  assert c.transfer.model == "vgg8" and tuple(c.vgg_widths) == (64, 120, 128, 256, 256) and c.vgg_dense == 4096
  assert tuple(c.benchmark.labelled_sizes) == (100, 1000) and c.benchmark.num_unlabelled == 800
  assert all(c.parts.values())
  assert train.make_model(c.model, 10, c).__class__.__name__ == "LeNet5"
