"""Uncertainty / feature-importance quick config: results.json keys and meaningful values."""

import json
import os

import numpy as np
import pytest

from experiments.uncertainty import train
from experiments.uncertainty.configs import quick
from tests.fixtures import Killed, PhaseKiller


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


def test_killed_run_resumes_and_matches_an_uninterrupted_run(tmp_path, monkeypatch):
  """A run killed while training the MC-dropout model, started again in its workdir, restores the
  two finished classifiers, resumes the dropout model from its last epoch and ends with the same
  numbers as an uninterrupted run."""
  c = quick.get_config()
  c.num_train, c.num_test, c.hidden, c.epochs, c.mc_samples = 1500, 400, (64,), 3, 4
  c.fi.ae_steps, c.fi.ascent_steps, c.fi.ot_batch = 100, 2, 64
  c.fi.fmnist_examples, c.fi.fmnist_ae_steps, c.fi.fmnist_ascent_steps = 300, 40, 1
  ref = train.train_and_evaluate(c, str(tmp_path / "ref"))
  kill_at = 15  # ~10 steps per epoch (1500 images less the held-out class, batch 128)

  loop = PhaseKiller(monkeypatch)
  loop.kill = ("dropout", kill_at)
  with pytest.raises(Killed):
    train.train_and_evaluate(c, str(tmp_path / "run"))
  loop.kill = None
  got = train.train_and_evaluate(c, str(tmp_path / "run"))
  start, done = got["resumed_from_step"], ref["resumed_from_step"]
  assert set(done.values()) == {0}
  assert start["two_head"] == start["softmax"] > start["dropout"] > 0
  assert start["ae_synthetic"] == start["ae_fashion_mnist"] == 0
  for group in ("ood_auroc", "in_distribution_accuracy"):
    for k, v in ref[group].items():
      np.testing.assert_allclose(got[group][k], v, rtol=1e-6, err_msg=f"{group} {k}")
  np.testing.assert_allclose(got["top_uncertain_is_held_out"], ref["top_uncertain_is_held_out"])
  for k, v in ref["feature_importance"]["synthetic"].items():
    np.testing.assert_allclose(got["feature_importance"]["synthetic"][k], v, rtol=1e-6)
