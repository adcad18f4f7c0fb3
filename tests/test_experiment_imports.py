"""Every module under ``experiments/`` imports next to every other one.

Tests and colabs import experiment scripts as libraries; absl refuses a flag defined twice, so a
script that defined ``--workdir`` or ``--config`` at import time broke whichever test imported it
second (the CI failure of stop 15: ``diagnose_pairs`` then ``noisy_labels.tune``). Scripts define
their flags under ``if __name__ == "__main__"`` (or through ``experiments.entry.run``). This runs
in a fresh interpreter, so the order and the set of modules already imported by other tests do
not matter. Modules that need an optional extra (``torch``, the ``bench`` extra of
``experiments/bench_train``) may fail only with that extra's ``ModuleNotFoundError``.
"""

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]

_SCRIPT = r"""
import importlib, pathlib, sys
OPTIONAL = {"torch"}  # pyproject's `bench` extra; make test does not install it
failed = []
for p in sorted(pathlib.Path("experiments").rglob("*.py")):
  if "configs" in p.parts:
    continue
  name = ".".join(p.with_suffix("").parts)
  try:
    importlib.import_module(name)
  except ModuleNotFoundError as e:
    if e.name not in OPTIONAL:
      failed.append(f"{name}: {type(e).__name__}: {e}")
  except Exception as e:  # pylint: disable=broad-except
    failed.append(f"{name}: {type(e).__name__}: {e}")
print("\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_all_experiment_modules_import_together():
  env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
  proc = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=ROOT, env=env, capture_output=True,
                        text=True, timeout=900, check=False)
  assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
