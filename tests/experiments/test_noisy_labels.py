"""The noisy-labels quick config runs end to end and gives meaningful accuracies."""

import json
import os

import numpy as np
import pytest

from experiments.noisy_labels import train
from experiments.noisy_labels.configs import default
from experiments.noisy_labels.configs import quick
from tests.fixtures import Killed, PhaseKiller


def test_quick_config(tmp_path):
  config = quick.get_config()
  results = train.train_and_evaluate(config, str(tmp_path))
  with open(os.path.join(tmp_path, "results.json")) as f:
    saved = json.load(f)
  for key in ("cce", "vat", "war"):
    assert key in saved
    # 10 classes: chance is 10%; with 40% symmetric noise every method must still learn.
    assert 60.0 < saved[key] <= 100.0, (key, saved[key])
  setting = saved["settings"]["symmetric_40"]
  assert abs(np.mean(setting["realised_noise_rate"]) - 0.4) < 0.05
  cost = np.asarray(setting["ground_cost"])
  assert cost.shape == (10, 10) and np.all(np.diag(cost) == 0) and np.all(cost >= 0)
  for png in ("learning_curves.png", "simplex_kl_vs_ot.png", "moons_boundaries.png"):
    assert os.path.getsize(os.path.join(tmp_path, png)) > 1000
  assert results["moons_test_acc"]["cce"] > 70.0


def test_default_config_is_paper_scale():
  c = default.get_config()
  assert c.num_train == 60000 and c.num_epochs == 120 and c.num_seeds == 3
  assert [tuple(n) for n in c.noise] == [("symmetric", 0.2), ("symmetric", 0.4),
                                         ("pairflip", 0.4)]


def test_default_config_runs_on_tiny_data(tmp_path):
  """The paper-scale code path (SmallCNN, 3 settings, 3 seeds) on a tiny slice."""
  c = default.get_config()
  c.num_train, c.num_test, c.batch_size = 64, 32, 32
  c.num_epochs, c.warmup_epochs = 2, 1
  c.cost_examples = 64
  c.progress = False
  c.plots.simplex = False
  c.plots.moons = False
  results = train.train_and_evaluate(c, str(tmp_path))
  assert set(results["settings"]) == {"symmetric_20", "symmetric_40", "pairflip_40"}
  for s in results["settings"].values():
    assert len(s["war"]["per_seed"]) == 3


def test_bad_method_is_rejected(tmp_path):
  c = quick.get_config()
  c.methods = ("cce", "mixup")
  with pytest.raises(ValueError, match="unknown method"):
    train.train_and_evaluate(c, str(tmp_path))


def test_tune_grid_and_point_config():
  from experiments.noisy_labels import tune
  from experiments.noisy_labels.configs import cpu_v3
  c = cpu_v3.get_config("stage2")
  points = tune.grid_points(c.tune.grid.to_dict())
  assert ("war", {"beta": 3.0, "radius": 1.0, "war_debiased": True}) in points
  pc = tune.point_config(c, "war", {"beta": 7.0, "radius": 0.25, "cost_floor": 0.03})
  # Tuning never looks at the test split; the sweep's base settings are applied, then the
  # point's values (beta and radius for the tuned method only); the run's config is untouched.
  base = c.tune.base
  assert pc.eval_split == "validation" and pc.num_test == c.tune.num_val
  assert pc.beta["war"] == 7.0 and pc.beta["vat"] == base.beta.vat
  assert train.method_radius(pc, "war") == 0.25
  assert train.method_radius(pc, "vat") == base.radius.vat
  assert pc.cost_floor == 0.03 and pc.methods == ("war",)
  assert tune.point_config(c, "vat", {"beta": 2.0}).cost_floor == base.cost_floor
  assert c.eval_split == "test" and train.method_radius(c, "war") != 0.25
  assert c.cost_floor != 0.03 and c.methods == ("cce", "vat", "war")
  with pytest.raises(ValueError, match="not a config key"):
    tune.point_config(c, "war", {"betta": 1.0})
  with pytest.raises(ValueError, match="unknown method"):
    tune.grid_points({"mixup": {"beta": (1.0,)}})
  with pytest.raises(ValueError, match="unknown tuning stage"):
    cpu_v3.get_config("stage99")


def test_later_stages_and_cpu_v5_build():
  from experiments.noisy_labels import tune
  from experiments.noisy_labels.configs import cpu_v3, cpu_v4, cpu_v5
  for stage in ("stage6", "stage7"):
    points = tune.grid_points(cpu_v3.get_config(stage).tune.grid.to_dict())
    assert points and all(m == "war" and p["war_debiased"] for m, p in points)
  c = cpu_v4.get_config("stage8")
  assert c.num_train == 20000 and {m for m, _ in tune.grid_points(c.tune.grid.to_dict())} == {
      "vat", "war"}
  r = cpu_v5.get_config()  # the settings tune_v4/stage8 chose, at cpu_v4's scale
  assert r.num_train == 20000 and r.eval_split == "test"
  assert (r.beta.vat, r.beta.war, train.method_radius(r, "vat"),
          train.method_radius(r, "war"), r.cost_floor) == (1.0, 3.0, 4.0, 0.5, 0.3)


def test_cpu_v6_runs_the_best_validation_points_of_stages_8_to_10():
  """cpu_v6 was declared from the committed tune_v4 stages: each method's best score there."""
  import json
  import os
  from experiments.noisy_labels import tune
  from experiments.noisy_labels.configs import cpu_v3, cpu_v6
  root = os.path.join(os.path.dirname(train.__file__), "results", "tune_v4")
  rows = []
  for stage in ("stage8", "stage9", "stage10"):
    with open(os.path.join(root, stage, "tune.json")) as f:
      rows += json.load(f)["rows"]
    assert tune.grid_points(cpu_v3.get_config(stage).tune.grid.to_dict())
  c = cpu_v6.get_config()
  assert c.num_train == 20000 and c.eval_split == "test" and c.num_seeds == 3
  for method in ("vat", "war"):
    best = max((r for r in rows if r["method"] == method), key=lambda r: r["score"])
    assert c.beta[method] == best["beta"]
    assert train.method_radius(c, method) == best["radius"]
    if method == "war":
      assert (c.cost_floor, c.epsilon) == (best["cost_floor"], best["epsilon"])
  # cpu_v6_long: the same run at 40% symmetric noise only, twice as long.
  from experiments.noisy_labels.configs import cpu_v6_long
  long = cpu_v6_long.get_config()
  assert long.noise == (("symmetric", 0.4),) and long.num_epochs == 2 * c.num_epochs
  d, dl = c.to_dict(), long.to_dict()
  assert {k for k in d if d[k] != dl[k]} == {"noise", "num_epochs"}
  # cnn_probe: cpu_v6's settings on the paper's network, a 3-epoch timing probe through tune.py.
  from experiments.noisy_labels.configs import cnn_probe
  probe = cnn_probe.get_config()
  assert probe.model == "small_cnn" and probe.num_epochs == 3
  assert {m for m, _ in tune.grid_points(probe.tune.grid.to_dict())} == {"vat", "war"}
  # cnn_probe.py:vat: exactly the timed VAT point, alone (to time it again on train_loop).
  vat = cnn_probe.get_config("vat")
  assert tune.grid_points(vat.tune.grid.to_dict()) == [("vat", {"beta": 1.0})]
  pv, pp = (tune.point_config(c, "vat", {"beta": 1.0}).to_dict() for c in (vat, probe))
  assert {k for k in pp if pp[k] != pv[k]} == {"tune"}
  with pytest.raises(ValueError, match="unknown point"):
    cnn_probe.get_config("mixup")


def test_tune_runs_on_tiny_data(tmp_path):
  import ml_collections
  from experiments.noisy_labels import tune
  c = quick.get_config()
  c.num_train, c.batch_size, c.num_epochs, c.warmup_epochs = 64, 32, 2, 1
  c.cost_examples = 64
  c.tune = ml_collections.ConfigDict(dict(
      noise=("symmetric", 0.4), num_val=32, num_seeds=1, last_epochs=1,
      grid=dict(cce=dict(radius=(1.0,)), vat=dict(beta=(1.0, 2.0)))))
  out = tune.run(c, str(tmp_path))
  assert [r["method"] for r in out["rows"]] == ["cce", "vat", "vat"]
  assert out["best"]["vat"]["score"] == max(r["score"] for r in out["rows"][1:])
  with open(os.path.join(tmp_path, "tune.json")) as f:
    saved = json.load(f)
  assert len(saved["rows"]) == 3 and len(saved["rows"][1]["val_curve"]) == 2
  assert "**best**" in open(os.path.join(tmp_path, "tune.md")).read()


def test_embedding_ground_cost_from_committed_class_name_vectors(tmp_path):
  """ground_cost='embedding' reads the committed class-name vectors (class_embeddings.py)."""
  c = quick.get_config()
  c.ground_cost = "embedding"
  c.cost_floor = 0.3
  cost = np.asarray(train._warmup_cost(None, c, None, None, 10))  # pylint: disable=protected-access
  assert cost.shape == (10, 10) and np.all(np.diag(cost) == 0)
  off = ~np.eye(10, dtype=bool)
  np.testing.assert_allclose([cost[off].min(), cost[off].max()], [0.3, 1.0], atol=1e-6)
  # The closest class names, 'T-shirt/top' (0) and 'Shirt' (6), get the highest cost.
  assert cost[0, 6] == cost[off].max()
  with open(train.os.path.join(train.os.path.dirname(train.__file__), "data",
                               "fashion_mnist_class_names_minilm.json")) as f:
    emb = np.asarray(json.load(f)["embeddings"])
  sim = emb @ emb.T  # the cost is increasing in the cosine similarity
  order = np.argsort(sim[off])
  assert np.all(np.diff(cost[off][order]) >= -1e-9)
  c.class_embeddings = str(tmp_path / "missing.json")
  with pytest.raises(FileNotFoundError, match="class_embeddings.py"):
    train._warmup_cost(None, c, None, None, 10)  # pylint: disable=protected-access
  c.class_embeddings = None
  with pytest.raises(ValueError, match="10 class embeddings for 3 classes"):
    train._warmup_cost(None, c, None, None, 3)  # pylint: disable=protected-access


def test_killed_run_resumes_and_matches_an_uninterrupted_run(tmp_path, monkeypatch):
  """A run killed inside WAR's phase, started again in its workdir, restores the finished
  warm-up and CCE phases, resumes WAR from its last checkpoint and ends with the same numbers."""
  c = quick.get_config()
  c.num_train, c.num_test, c.batch_size = 300, 200, 50  # 6 steps per epoch
  c.num_epochs, c.warmup_epochs, c.num_seeds = 4, 1, 2
  c.methods = ("cce", "war")
  c.cost_examples = 300
  c.plots.simplex = c.plots.moons = False
  spe, kill_at = 6, 2 * 6 + 1  # WAR's third epoch: its last checkpoint is at step 12
  ref = train.train_and_evaluate(c, str(tmp_path / "ref"))["settings"]["symmetric_40"]

  loop = PhaseKiller(monkeypatch)
  loop.kill = ("war", kill_at)
  with pytest.raises(Killed):
    train.train_and_evaluate(c, str(tmp_path / "run"))
  loop.kill = None
  got = train.train_and_evaluate(c, str(tmp_path / "run"))["settings"]["symmetric_40"]
  assert ref["resumed_from_step"] == {"warmup": 0, "cce": 0, "war": 0}
  assert got["resumed_from_step"] == {"warmup": spe, "cce": 3 * spe, "war": 2 * spe}
  np.testing.assert_allclose(got["ground_cost"], ref["ground_cost"], rtol=1e-6)
  for m in c.methods:
    for key in ("per_seed", "curve_mean", "train_acc_noisy_curve", "final_reg"):
      np.testing.assert_allclose(got[m][key], ref[m][key], rtol=1e-5, err_msg=f"{m} {key}")
