"""Tests for ``experiments.entry``, the absl entry point of every ``experiments/<name>/main.py``."""

import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(args, tmp_path, script=None):
  env = {**os.environ, "PYTHONPATH": ROOT}
  cmd = [sys.executable] + (["-c", script] if script else []) + list(args)
  return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_run_parses_config_overrides_workdir_and_prints_keys(tmp_path):
  script = textwrap.dedent("""
      from experiments import entry
      def fake(config, workdir):
        return {"epochs": config.epochs, "workdir": workdir, "hidden": 0}
      entry.run(fake, "supervised", keys=("epochs", "workdir"))
  """)
  out = _run(["--config.epochs=3", f"--workdir={tmp_path}"], tmp_path, script)
  assert out.returncode == 0, out.stderr
  assert f"{{'epochs': 3, 'workdir': '{tmp_path}'}}" in out.stdout


def test_run_requires_workdir(tmp_path):
  script = "from experiments import entry; entry.run(lambda c, w: {}, 'supervised')"
  out = _run([], tmp_path, script)
  assert out.returncode != 0 and "workdir" in out.stderr


def test_dispatch_short_circuits_training(tmp_path):
  script = textwrap.dedent("""
      from absl import flags
      from experiments import entry
      def boom(config, workdir):
        raise AssertionError("train_and_evaluate must not run")
      entry.run(boom, "supervised",
                extra_flags=lambda: flags.DEFINE_bool("only_pairs", False, "test flag"),
                dispatch=lambda c, w: flags.FLAGS.only_pairs and print("dispatched") is None)
  """)
  out = _run(["--only_pairs", f"--workdir={tmp_path}"], tmp_path, script)
  assert out.returncode == 0, out.stderr
  assert "dispatched" in out.stdout


@pytest.mark.parametrize("name", ["dwe", "noisy_labels"])
def test_experiment_mains_define_their_flags(name, tmp_path):
  out = _run(["-m", f"experiments.{name}.main", "--helpfull"], tmp_path)
  assert "Traceback" not in out.stderr, out.stderr  # absl's help exits with status 1
  assert "--workdir" in out.stdout and "--config" in out.stdout
  if name == "dwe":
    assert "--pairs_only" in out.stdout and "--cross_only" in out.stdout
