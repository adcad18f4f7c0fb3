"""Smoke test of the OT speed benchmark on a tiny problem (no timing is asserted)."""

import json
import subprocess
import sys


def test_bench_ot_runs_and_writes_results(tmp_path):
  cmd = [sys.executable, "-m", "experiments.bench_ot.main", f"--workdir={tmp_path}",
         "--repeats=1", "--num_batches=2", "--n=12", "--d=3", "--ott=false"]
  subprocess.run(cmd, check=True, capture_output=True, timeout=600)
  res = json.loads((tmp_path / "results.json").read_text())
  for key in ("exact", "sinkhorn_eps0.05", "unbalanced_eps0.1_rho1"):
    row = res[key]
    assert row["ratio_wassml_over_pot"] > 0
    # Same answer as POT (float32 vs float64).
    assert row["max_rel_value_diff_vs_pot"] < 1e-3, (key, row)
  assert res["exact"]["max_abs_value_diff_auction_vs_pot"] < 1e-5
  assert "command" in res["meta"]
