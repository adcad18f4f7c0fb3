"""Tests for the ``wassml`` console script (``wassml.cli.main``)."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from wassml import cli
from wassml.data import fashion_mnist as fm

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_list_shows_experiments_and_datasets(capsys):
  assert cli.main(["list"]) == 0
  out = capsys.readouterr().out
  for word in ("supervised", "quick", "fashion_mnist", "three_moons", "mnist", "moons_rot30"):
    assert word in out


def test_module_entry_point_runs():
  env = dict(os.environ, PYTHONPATH=str(ROOT))
  proc = subprocess.run([sys.executable, "-m", "wassml.cli", "list"], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0 and "supervised" in proc.stdout, proc.stderr


def test_unknown_experiment_lists_valid_names(capsys, tmp_path):
  assert cli.main(["run", "nope", "--workdir", str(tmp_path)]) == 2
  err = capsys.readouterr().err
  assert "Unknown experiment 'nope'" in err and "supervised" in err


def test_unknown_config_key_and_bad_values_are_rejected(capsys, tmp_path):
  assert cli.main(["run", "supervised", "--workdir", str(tmp_path), "--set", "nope=1"]) == 2
  err = capsys.readouterr().err
  assert "Unknown config key 'nope'" in err and "batch_size" in err
  assert cli.main(["run", "supervised", "--workdir", str(tmp_path), "--set", "epochs=two"]) == 2
  assert "expected int" in capsys.readouterr().err
  assert cli.main(["run", "supervised", "--config", "nope.py", "--workdir", str(tmp_path)]) == 2
  assert "neither a config" in capsys.readouterr().err
  assert not list(tmp_path.iterdir())  # nothing was run


def test_overrides_follow_the_field_types():
  cfg = cli.load_config("supervised", "quick")
  cli.apply_overrides(cfg, ["learning_rate=1", "use_batchnorm=false", "model=lenet5"])
  assert cfg.learning_rate == 1.0 and isinstance(cfg.learning_rate, float)
  assert cfg.use_batchnorm is False and cfg.model == "lenet5"
  with pytest.raises(AttributeError):
    cfg.not_a_key = 3  # the ConfigDict stays locked


def test_missing_data_names_the_install_command(capsys, tmp_path, monkeypatch):
  monkeypatch.setenv("WASSML_DATA_DIR", str(tmp_path))
  monkeypatch.setattr(fm, "SYSTEM_DIR", tmp_path / "nowhere")
  assert cli.main(["run", "supervised", "--workdir", str(tmp_path / "w")]) == 2
  assert "sudo apt-get install dataset-fashion-mnist" in capsys.readouterr().err


def test_run_with_overrides_writes_results(tmp_path, capsys):
  wd = tmp_path / "run"
  rc = cli.main(["run", "supervised", "--config", "quick", "--workdir", str(wd),
                 "--set", "dataset=digits", "--set", "num_val=100", "--set", "max_test=-1",
                 "--set", "epochs=1", "--set", "batch_size=50"])
  assert rc == 0
  res = json.loads((wd / "results.json").read_text())
  assert res["dataset"] == "digits" and res["config"]["epochs"] == 1
  assert res["num_test"] == 359 and res["steps"] == (1438 - 100) // 50
  assert 0.0 <= res["test_accuracy"] <= 1.0
  assert '"test_accuracy"' in capsys.readouterr().out


def test_tour_calls_wassml_tour_main(monkeypatch, tmp_path, capsys):
  import wassml.tour  # pylint: disable=g-import-not-at-top
  calls = []
  monkeypatch.setattr(wassml.tour, "main",
                      lambda workdir, **kw: calls.append((workdir, kw)) or tmp_path / "r.html")
  assert cli.main(["tour", "--workdir", str(tmp_path), "--only", "supervised"]) == 0
  assert calls == [(str(tmp_path), {"only": ["supervised"]})]
  assert "r.html" in capsys.readouterr().out
