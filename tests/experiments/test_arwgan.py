"""ARWGAN quick config: results.json keys and meaningful values; a killed run resumes."""

import json
import os

import numpy as np
import pytest

from experiments.arwgan import train
from experiments.arwgan.configs import quick
from tests.fixtures import Killed, PhaseKiller


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


def _tiny_config():
  c = quick.get_config()
  c.num_train, c.num_test = 1000, 500
  c.classifier_epochs = 1
  c.gan_steps = 30
  c.checkpoint_every = 10
  c.log_every = 10
  c.num_eval = 100
  return c


def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
  """A run killed in the WGAN phase (step 15, last checkpoint 10) restarted in the same workdir
  ends with the numbers of an uninterrupted run."""
  config = _tiny_config()
  full = train.train_and_evaluate(config, str(tmp_path / "full"))
  assert full["resumed_from_step"] == {"classifier": 0, "wgan": 0}

  loop = PhaseKiller(monkeypatch)
  loop.kill = ("wgan", 15)
  with pytest.raises(Killed):
    train.train_and_evaluate(config, str(tmp_path / "killed"))
  loop.kill = None
  again = train.train_and_evaluate(config, str(tmp_path / "killed"))
  # The finished classifier is restored (its last step, 1000 // 128 = 7), the WGANs resume at 10.
  assert again["resumed_from_step"] == {"classifier": 7, "wgan": 10}
  assert again["classifier_test_accuracy"] == full["classifier_test_accuracy"]
  for w in config.weightings:
    for k in ("misclassified_fraction", "sliced_w2_to_class_test", "w2_to_class_test",
              "final_w1_estimate"):
      np.testing.assert_allclose(again[w][k], full[w][k], rtol=1e-5, err_msg=f"{w}/{k}")
    assert again[w]["predicted_class_histogram"] == full[w]["predicted_class_histogram"]
