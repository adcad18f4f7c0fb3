"""Uncertainty / feature-importance quick config: results.json keys and meaningful values."""

import json
import os

from experiments.uncertainty import train
from experiments.uncertainty.configs import quick


def test_quick_config(tmp_path):
  train.train_and_evaluate(quick.get_config(), str(tmp_path))
  with open(os.path.join(tmp_path, "results.json")) as f:
    saved = json.load(f)
  for name in ("two_head_spread", "softmax_entropy", "mc_dropout_entropy"):
    assert 0.5 < saved["ood_auroc"][name] <= 1.0, saved["ood_auroc"]
  assert saved["in_distribution_accuracy"]["two_head"] > 0.7
  synth = saved["feature_importance"]["synthetic"]
  assert synth["precision_at_k_per_feature_derivative"] > synth["chance_precision"]
  for png in ("top_uncertain.png", "feature_importance.png"):
    assert os.path.getsize(os.path.join(tmp_path, png)) > 1000
