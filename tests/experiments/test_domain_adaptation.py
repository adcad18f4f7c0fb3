"""The domain-adaptation experiment: quick config end to end, default config on mocked TFDS data."""

import json
import os

import numpy as np
import pytest

from experiments.domain_adaptation import train
from experiments.domain_adaptation.configs import default as default_config
from experiments.domain_adaptation.configs import quick as quick_config
from tests.fixtures import Killed, PhaseKiller


def test_quick_config_results(tmp_path):
  config = quick_config.get_config()
  config.progress = False
  res = train.train_and_evaluate(config, str(tmp_path))
  with open(tmp_path / "results.json") as f:
    saved = json.load(f)
  for method in ("source_only", "deepjdot", "jumbot"):
    assert set(saved[method]) == {"moons_rot30", "moons_rot50"}
    for pair, acc in saved[method].items():
      assert 0.0 <= acc <= 1.0
      assert acc == pytest.approx(res[method][pair])
  # Meaningful values: on the 30-degree shift every method is well above chance (0.5) and
  # JUMBOT clearly improves on its own starting point, the source-only model. (On 50 degrees
  # no method of this small config beats chance reliably; see the results README.)
  for method in ("source_only", "deepjdot", "jumbot"):
    assert saved[method]["moons_rot30"] > 0.7, saved
  assert saved["jumbot"]["moons_rot30"] > 0.9, saved
  assert saved["jumbot"]["moons_rot30"] > saved["source_only"]["moons_rot30"] + 0.1, saved
  assert saved["selection"] == "source_val" and saved["complete"] is True
  t = saved["table"]["moons_rot30"]["jumbot"]
  assert {"mean", "std", "per_seed", "last_mean", "oracle_target_test_mean"} <= set(t)
  assert t["oracle_target_test_mean"] >= t["mean"] - 1e-9
  for png in ("accuracy.png", "embeddings_moons_rot30.png", "plan_moons_rot50.png"):
    assert os.path.getsize(tmp_path / png) > 1000, png
  # Balanced plans keep the whole unit mass; the unbalanced plan's mass is free.
  pm = saved["plan_mass"]["moons_rot50"]
  assert np.sum(pm["balanced"]["mass_per_class"]) == pytest.approx(1.0, abs=1e-3)


def _tiny_default_config(methods):
  config = default_config.get_config()
  # Shrink the run, not the method: 2 examples per class, a few steps, a narrow DigitsCNN.
  config.pairs = ["svhn_mnist"]
  config.seeds = [0]
  config.methods = list(methods)
  config.max_train = 60
  config.max_test = 40
  config.per_class = 2
  config.pretrain_steps = 2
  config.steps = 2
  config.eval_every = 2
  config.max_eval = 40
  config.plot_points = 40
  config.cnn_widths = (4, 4, 4)
  config.feature_dim = 8
  config.dann_hidden = 8
  config.embedding_plot = "pca"
  config.progress = False
  return config


def test_default_config_is_the_reference_setting():
  config = default_config.get_config()
  assert config.per_class == 50 and config.learning_rate == 2e-4
  assert (config.eta1, config.eta2, config.eta3, config.rho, config.epsilon) == (
      0.1, 0.1, 1.0, 1.0, 0.1)
  assert config.model == "digits_cnn" and config.seeds == [0, 1, 2]
  assert config.pretrain_steps * 10 == config.steps   # 10 source-only epochs, then 100
  assert set(config.methods) == {"source_only", "dann", "deepjdot", "entropic_deepjdot",
                                 "jumbot"}
  assert config.pairs == ["svhn_mnist", "reverse:mnist_usps_style"]


def _run_mocked(tmp_path, methods):
  tfds = pytest.importorskip("tensorflow_datasets")
  config = _tiny_default_config(methods)
  with tfds.testing.mock_data(num_examples=100):
    res = train.train_and_evaluate(config, str(tmp_path))
  for m in methods:
    assert 0.0 <= res[m]["svhn_mnist"] <= 1.0
  with open(tmp_path / "results.json") as f:
    assert set(methods) <= set(json.load(f))


def test_default_config_runs_on_mocked_tfds_data(tmp_path):
  _run_mocked(tmp_path, ["jumbot"])


@pytest.mark.slow
def test_default_config_all_methods_on_mocked_tfds_data(tmp_path):
  _run_mocked(tmp_path, ["source_only", "dann", "deepjdot", "entropic_deepjdot", "jumbot"])


def test_pair_overrides_change_only_their_pair():
  config = quick_config.get_config()
  config.pair_overrides = {"moons_rot50": {"rho": 0.3, "epsilon": 0.05}}
  c50 = train.pair_config(config, "moons_rot50")
  assert (c50.rho, c50.epsilon) == (0.3, 0.05)
  assert (config.rho, config.epsilon) == (1.0, 0.1)          # the shared config is untouched
  c30 = train.pair_config(config, "moons_rot30")
  assert (c30.rho, c30.epsilon) == (1.0, 0.1)
  assert c50.steps == config.steps and c50.pairs == config.pairs
  config.pair_overrides = {"moons_rot30": {"rhoo": 0.3}}
  with pytest.raises(ValueError, match="rhoo"):
    train.pair_config(config, "moons_rot30")


def test_diagnose_pairs_histograms_are_distributions():
  from experiments.domain_adaptation import diagnose_pairs  # pylint: disable=g-import-not-at-top
  config = quick_config.get_config()
  config.progress = False
  config.pretrain_steps = 20
  out = diagnose_pairs.diagnose(config, "moons_rot30", seed=0)
  for split in ("source_val", "target_test"):
    frac = np.asarray(out[split]["predicted_class_fraction"])
    assert frac.shape == (2,) and frac.sum() == pytest.approx(1.0) and (frac >= 0).all()
    assert np.asarray(out[split]["true_class_fraction"]).sum() == pytest.approx(1.0)
    assert 0.0 <= out[split]["accuracy"] <= 1.0
  assert out["target_classes"] == [0, 1]
  assert out["source_val"]["accuracy"] > 0.6   # 20 steps already separate the source moons


def _table(so, dj, jb):
  row = lambda v: {"mean": v[0], "last_mean": v[1], "std": 0.0, "per_seed": list(v),
                   "oracle_target_test_mean": max(v)}
  return {"source_only": row(so), "deepjdot": row(dj), "jumbot": row(jb)}


def test_report_target_checks_per_statistic_and_paired_substitution():
  from experiments.domain_adaptation import report  # pylint: disable=g-import-not-at-top
  res = {"table": {"a": _table((0.2, 0.2), (0.3, 0.3), (0.25, 0.4)),
                   "a_partial": _table((0.1, 0.1), (0.3, 0.3), (0.2, 0.2))}}
  sel = report.target_checks(res)
  assert "JUMBOT >= DeepJDOT: **False** (25.0 vs 30.0)" in sel[0]
  last = report.target_checks(res, "last_mean")
  assert "JUMBOT >= DeepJDOT: **True** (40.0 vs 30.0)" in last[0]
  assert "largest on partial DA: **False**" in last[-1]
  # A supplementary run with the same source-only rows replaces JUMBOT on its pair only.
  supp = {"table": {"a_partial": {"source_only": _table((0.1, 0.1), (0, 0), (0, 0))["source_only"],
                                  "jumbot": _table((0, 0), (0, 0), (0.5, 0.5))["jumbot"]}}}
  merged, notes = report.substituted(res, supp)
  assert merged["table"]["a_partial"]["jumbot"]["mean"] == 0.5
  assert merged["table"]["a"]["jumbot"]["mean"] == 0.25
  assert res["table"]["a_partial"]["jumbot"]["mean"] == 0.2     # the input is not modified
  assert "identical" in notes[0]
  assert "largest on partial DA: **True**" in report.target_checks(merged)[-1]
  # Different source-only rows: not a paired comparison, nothing is merged.
  supp["table"]["a_partial"]["source_only"]["per_seed"] = [0.11, 0.1]
  merged, notes = report.substituted(res, supp)
  assert merged["table"]["a_partial"]["jumbot"]["mean"] == 0.2 and "differ" in notes[0]


def test_summarize_last_rule_reports_both_label_free_alternatives():
  hist = {"step": [1, 2, 3], "source_val_acc": [0.9, 0.5, 0.6], "reverse_val": [0.1, 0.8, 0.2],
          "target_test_acc": [0.3, 0.45, 0.4]}
  out = train.summarize(hist, "last")
  assert (out["selected"], out["selected_step"], out["last"]) == (0.4, 3, 0.4)
  assert out["selected_by_source_val"] == 0.3 and out["selected_by_reverse_val"] == 0.45
  assert out["oracle_target_test"] == 0.45
  out = train.summarize(hist, "source_val")
  assert out["selected"] == 0.3 and out["selected_by_reverse_val"] == 0.45
  assert "selected_by_source_val" not in out


def test_pretraining_is_shared_by_pairs_with_the_same_source(tmp_path, monkeypatch):
  calls = []
  real = train.train_method

  def counting(method, state, data, config, key, **kw):
    if kw.get("eval_every") is None:
      calls.append(kw.get("desc"))
    return real(method, state, data, config, key, **kw)

  monkeypatch.setattr(train, "train_method", counting)
  config = quick_config.get_config()
  config.progress = False
  config.methods = ["source_only"]
  config.pretrain_steps, config.steps, config.eval_every = 3, 2, 2
  config.seeds = [0, 1]
  # Both moons pairs have the same source sample for a seed: one pre-training (of both seeds
  # together), run for the first pair and reused by the second.
  res = train.train_and_evaluate(config, str(tmp_path))
  assert len(calls) == 1 and "moons_rot30" in calls[0], calls
  assert set(res["source_only"]) == {"moons_rot30", "moons_rot50"}
  assert set(res["runs"]["moons_rot50"]["source_only"]) == {"0", "1"}


def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
  """A run killed inside JUMBOT's training, started again in its workdir, restores the finished
  runs, resumes JUMBOT from its last checkpoint and ends with the uninterrupted run's results."""
  config = quick_config.get_config()
  config.progress = False
  config.pairs = ["moons_rot30"]
  config.methods = ["source_only", "jumbot"]
  config.seeds = [0, 1]
  config.pretrain_steps, config.steps, config.eval_every = 20, 40, 10
  config.checkpoint_every = None        # at every evaluation
  loop = PhaseKiller(monkeypatch)
  ref = train.train_and_evaluate(config, str(tmp_path / "ref"))
  loop.kill = ("jumbot", 25)
  with pytest.raises(Killed):
    train.train_and_evaluate(config, str(tmp_path / "run"))
  loop.kill = None
  loop.starts.clear()
  got = train.train_and_evaluate(config, str(tmp_path / "run"))
  assert loop.starts == {"moons_rot30 pretrain": 20, "moons_rot30 source_only": 40,
                    "moons_rot30 jumbot": 20}
  for method in config.methods:
    for seed in ("0", "1"):
      want = ref["runs"]["moons_rot30"][method][seed]
      have = got["runs"]["moons_rot30"][method][seed]
      assert have["history"]["step"] == [10, 20, 30, 40]
      assert set(have["history"]) == set(want["history"])
      for name, values in want["history"].items():
        np.testing.assert_allclose(have["history"][name], values, rtol=1e-5, atol=1e-6)
      assert have["selected"] == pytest.approx(want["selected"])


def test_report_paired_differences_and_last_rule_header():
  from experiments.domain_adaptation import report  # pylint: disable=g-import-not-at-top
  res = {"config": {"seeds": [0, 1]}, "selection": "last",
         "table": {"a": _table((0.2, 0.3), (0.3, 0.3), (0.35, 0.2))}}
  lines = report.paired_differences(res)
  assert "| a | +5.0, -10.0 | +10.0, +0.0 | +15.0, -10.0 |" in lines
  cols = report._other_columns({"selection": "last", "table": {"a": {"m": {
      "last_mean": 0, "selected_by_source_val_mean": 0, "oracle_target_test_mean": 0}}}})
  assert [c[0] for c in cols] == ["selected_by_source_val_mean", "oracle_target_test_mean"]


def test_choose_rho_takes_the_smallest_rho_whose_plan_stays_alive():
  from experiments.domain_adaptation import choose_rho  # pylint: disable=g-import-not-at-top

  def run(rho, masses, override=False):
    cfg = {"rho": 1.0 if override else rho,
           "pair_overrides": {"p": {"rho": rho}} if override else {}}
    return {"config": cfg, "runs": {"p": {"jumbot": {
        str(s): {"history": {"train_plan_mass": [0.5, m], "target_test_acc": [0.0, 0.0]}}
        for s, m in enumerate(masses)}}}}

  cands = {"r1": run(1.0, [1.1, 1.2]), "r05": run(0.5, [0.4, 0.3], override=True),
           "r03": run(0.3, [0.2, 0.0])}
  out = choose_rho.choose(cands, "p", min_mass=0.1)
  assert out["candidates"]["r03"]["alive"] is False      # one seed's plan is empty
  assert out["chosen_run"] == "r05" and out["chosen_rho"] == 0.5
  out = choose_rho.choose({"r03": cands["r03"]}, "p", min_mass=0.1)
  assert out["chosen_run"] is None


def test_report_final_table_marks_the_supplement_cells_and_checks_them(tmp_path):
  from experiments.domain_adaptation import report  # pylint: disable=g-import-not-at-top
  cfg = {"name": "main", "seeds": [0, 1], "methods": ["source_only", "deepjdot", "jumbot"],
         "rho": 1.0, "epsilon": 0.1, "eta1": 0.1, "eta2": 0.1}
  res = {"config": cfg, "selection": "last",
         "table": {"a": _table((0.2, 0.2), (0.3, 0.3), (0.35, 0.35)),
                   "a_partial": _table((0.1, 0.1), (0.3, 0.3), (0.2, 0.2))}}
  supp_dir = tmp_path / "supp_rho05"
  supp_dir.mkdir()
  supp = {"config": dict(cfg, name="supp", rho=0.5, methods=["source_only", "jumbot"]),
          "table": {"a_partial": {"source_only": _table((0.1, 0.1), (0, 0), (0, 0))["source_only"],
                                  "jumbot": _table((0, 0), (0, 0), (0.5, 0.4))["jumbot"]}}}
  (supp_dir / "results.json").write_text(json.dumps(supp))
  text = "\n".join(report.final_section(res, str(supp_dir)))
  assert "rho=0.5" in text and "`a_partial`" in text
  assert "| a_partial | 10.0 ± 0.0 | 30.0 ± 0.0 | 50.0 ± 0.0 † |" in text   # supplement's JUMBOT
  assert "| a | 20.0 ± 0.0 | 30.0 ± 0.0 | 35.0 ± 0.0 |" in text             # this run's, unmarked
  assert "| a_partial | +20.0, +10.0 |" in text                               # paired per seed
  assert "largest on partial DA: **True**" in text
  assert "On the last checkpoint" not in text        # it is the run's rule here: not repeated
  # The final supplement must be one of the supplements.
  with pytest.raises(ValueError, match="final_supplement"):
    report.da_readme(res, "", "", supplements=(), final=str(supp_dir))
