"""The generative experiment's quick config runs end to end and fits every loss."""

import json

import numpy as np
import pytest

from experiments.generative import train
from experiments.generative.configs import quick


def test_quick_config(tmp_path):
  config = quick.get_config()
  # One 2-D target (every loss, the theory figures): the colab test runs the whole quick config.
  config.targets = ("moons",)
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
  for name in ("fit_moons.png", "minibatch_plan_1d.png", "class_connections.png",
               "deviation.png", "bias.png"):
    assert (tmp_path / name).stat().st_size > 1000


def _tiny_fmnist_config():
  """The Fashion-MNIST pipeline's config on sklearn's 8x8 digits, tiny shapes, a few steps."""
  from experiments.generative.configs import fmnist as fmnist_config
  c = fmnist_config.get_config()
  c.dataset = "digits"
  c.num_steps = 4
  c.batch_size = 16
  c.num_eval = 64
  c.eval_every = 2
  c.checkpoint_every = 2
  c.log_every = 2
  c.grid_size = 16
  c.timing_steps = 2
  c.timing_rounds = 1
  c.noise_dim = 8
  c.hidden = (32,)
  c.critic_hidden = (32,)
  c.critic_steps = 2
  c.epsilon = 1.0
  cl = c.classifier
  cl.dataset = "digits"
  cl.num_val = 200
  cl.epochs = 1
  cl.batch_size = 64
  cl.eval_batch_size = 200
  return c


def test_fmnist_pipeline_runs_scores_and_resumes(tmp_path):
  """The Fashion-MNIST generator pipeline (classifier features, FID-like score, both losses,
  checkpoints, timing) end to end on tiny digits; a rerun reuses the classifier and resumes."""
  config = _tiny_fmnist_config()
  results = train.train_and_evaluate(config, str(tmp_path))  # dispatches on config.experiment
  saved = json.loads((tmp_path / "results.json").read_text())
  assert saved["runs"].keys() == set(config.losses)
  assert not results["classifier"]["cached"]
  ref = results["reference_fid_like_train_vs_test"]
  for name in config.losses:
    run = results["runs"][name]
    assert run["steps"] == config.num_steps and run["resumed_from_step"] == 0
    assert [s for s, _ in run["fid_like_curve"]] == [0, 2, 4]
    assert run["fid_like"] == run["fid_like_curve"][-1][1]
    assert 0 < ref < run["untrained_fid_like"], (name, ref, run["untrained_fid_like"])
    assert results["seconds_per_step"][name] > 0
    assert (tmp_path / f"samples_{name}.png").stat().st_size > 1000
  assert "| wgan_gp, trained | 4 |" in (tmp_path / "tables.md").read_text()
  for png in ("samples_real_test.png", "samples_untrained.png", "fid_like.png", "step_time.png"):
    assert (tmp_path / png).stat().st_size > 1000

  # Rerun with more steps: the classifier is restored, the generators resume from step 4.
  config.num_steps = 6
  again = train.train_and_evaluate(config, str(tmp_path))
  assert again["classifier"]["cached"]
  assert again["reference_fid_like_train_vs_test"] == ref
  for name in config.losses:
    assert again["runs"][name]["resumed_from_step"] == 4
    assert again["runs"][name]["steps"] == 6
    assert again["runs"][name]["fid_like_curve"][:3] == results["runs"][name]["fid_like_curve"]


def test_fmnist_fid_like_and_bad_input():
  from experiments.generative import fmnist
  rng = np.random.default_rng(0)
  x = rng.normal(size=(50, 6)).astype(np.float32)
  assert fmnist.fid_like(x, x) < 1e-3
  assert abs(fmnist.fid_like(x, x + 2.0) - 2.0 * np.sqrt(6)) < 1e-3  # a translation moves W2 by |t|
  with pytest.raises(ValueError, match="square"):
    fmnist.plot_grid(np.zeros((5, 4, 4, 1)), None, "x")
  config = _tiny_fmnist_config()
  config.num_eval = 10_000
  with pytest.raises(ValueError, match="num_eval"):
    fmnist.train_and_evaluate(config, "/nonexistent/never/created")


def test_sweep_config_runs_only_the_sweep(tmp_path):
  from experiments.generative.configs import sweep as sweep_config
  config = sweep_config.get_config()
  config.num_train, config.num_heldout = 200, 50
  config.sweep_cfg.batch_sizes, config.sweep_cfg.num_batches = (8,), (1,)
  config.sweep_cfg.num_seeds, config.sweep_cfg.num_steps = 2, 3
  config.sweep_cfg.data_batch_size = 32
  results = train.train_and_evaluate(config, str(tmp_path))
  assert set(results) == {"sweep", "wall_time_s", "config"}
  table = results["sweep"]["table"]
  assert [(r["m"], r["k"]) for r in table] == [(8, 1)]
  assert all(np.isfinite(r["w2_mean"]) and r["w2_mean"] > 0 for r in table)
  assert (tmp_path / "sweep_m_k.png").stat().st_size > 1000
  assert not (tmp_path / "fit_moons.png").exists()
  config.sweep_cfg.batch_sizes = (64,)  # m > n = 32 data samples per step
  with pytest.raises(ValueError, match="data_batch_size"):
    train.train_and_evaluate(config, str(tmp_path / "bad"))


def test_killed_sweep_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
  """A sweep killed inside its second grid point (step 3, last checkpoint 2) and restarted in the
  same workdir restores the finished point, resumes the other, and reports the numbers of an
  uninterrupted sweep."""
  from experiments.generative import sweep
  from experiments.generative.configs import sweep as sweep_config
  config = sweep_config.get_config()
  config.num_train, config.num_heldout = 200, 50
  config.sweep_cfg.batch_sizes, config.sweep_cfg.num_batches = (8,), (1, 2)
  config.sweep_cfg.num_seeds, config.sweep_cfg.num_steps = 2, 6
  config.sweep_cfg.data_batch_size = 32
  config.sweep_cfg.checkpoint_every = 2
  full = train.train_and_evaluate(config, str(tmp_path / "full"))["sweep"]["table"]
  assert [r["resumed_from_step"] for r in full] == [0, 0]

  loop = sweep.wtrain.train_loop

  def killed_loop(state, step_fn, batch_fn, **kw):
    if kw.get("desc") != "m=8 k=2":
      return loop(state, step_fn, batch_fn, **kw)

    def batch(i, s):
      if i == 3:
        raise KeyboardInterrupt("killed")
      return batch_fn(i, s)
    return loop(state, step_fn, batch, **kw)

  monkeypatch.setattr(sweep.wtrain, "train_loop", killed_loop)
  with pytest.raises(KeyboardInterrupt):
    train.train_and_evaluate(config, str(tmp_path / "killed"))
  monkeypatch.setattr(sweep.wtrain, "train_loop", loop)
  again = train.train_and_evaluate(config, str(tmp_path / "killed"))["sweep"]["table"]
  assert [r["resumed_from_step"] for r in again] == [6, 2]
  for a, b in zip(again, full):
    assert (a["m"], a["k"]) == (b["m"], b["k"])
    np.testing.assert_allclose([a["w2_mean"], a["w2_std"]], [b["w2_mean"], b["w2_std"]],
                               rtol=1e-5)
