"""The generative experiment's quick config runs end to end and fits every loss."""

import json

from experiments.generative import train
from experiments.generative.configs import quick


def test_quick_config(tmp_path):
  config = quick.get_config()
  results = train.train_and_evaluate(config, str(tmp_path))
  saved = json.loads((tmp_path / "results.json").read_text())
  assert saved["final_w2"] == results["final_w2"]
  for target in config.targets:
    for name in config.losses:
      final = results["final_w2"][target][name]
      initial = results["initial_w2"][target][name]
      assert final < 0.6 * initial, (target, name, initial, final)
  theory = results["theory"]
  assert theory["cross_class_mass"]["unbalanced"] < theory["cross_class_mass"]["balanced"]
  for name in ("fit_moons.png", "fit_gmm.png", "minibatch_plan_1d.png", "class_connections.png",
               "deviation.png", "bias.png"):
    assert (tmp_path / name).stat().st_size > 1000
