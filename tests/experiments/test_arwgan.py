"""ARWGAN quick config: results.json keys and meaningful values."""

import json
import os

from experiments.arwgan import train
from experiments.arwgan.configs import quick


def test_quick_config(tmp_path):
  results = train.train_and_evaluate(quick.get_config(), str(tmp_path))
  with open(os.path.join(tmp_path, "results.json")) as f:
    saved = json.load(f)
  assert saved["classifier_test_accuracy"] > 70.0
  for w in ("uniform", "hard", "soft"):
    r = saved[w]
    assert 0.0 <= r["misclassified_fraction"] <= 1.0
    assert r["sliced_w2_to_class_test"] > 0 and r["w2_to_class_test"] > 0
  # Hard weights keep only the misclassified real images.
  assert saved["hard"]["effective_sample_size"] < saved["uniform"]["effective_sample_size"]
  assert os.path.getsize(os.path.join(tmp_path, "generated_grid.png")) > 1000
  assert results["target_class"] == 6
