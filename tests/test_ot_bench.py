"""Smoke test of the OT speed benchmark on a tiny problem (no timing is asserted)."""

import json
import subprocess
import sys


def test_bench_ot_runs_and_writes_results(tmp_path):
  cmd = [sys.executable, "-m", "experiments.bench_ot.main", f"--workdir={tmp_path}",
         "--repeats=1", "--sizes=2x12", "--d=3", "--ott=false"]
  subprocess.run(cmd, check=True, capture_output=True, timeout=600)
  res = json.loads((tmp_path / "results.json").read_text())
  for key in ("exact_2x12", "sinkhorn_eps0.05_2x12", "unbalanced_eps0.1_rho1_2x12"):
    row = res[key]
    assert row["ratio_wassml_over_pot"] > 0
    # Same answer as POT (float32 vs float64), for the default call.
    assert row["max_rel_value_diff_wassml_vs_pot"] < 1e-3, (key, row)
  assert res["exact_2x12"]["max_rel_value_diff_auction_vs_pot"] < 1e-5
  for key in ("sinkhorn_eps0.05_2x12", "unbalanced_eps0.1_rho1_2x12"):
    row = res[key]
    # Every explicit mode is timed beside the default, and the equal-work columns ran
    # exactly POT's iteration count in both precisions.
    assert {"wassml_kernel_s", "wassml_log_s", "ratio_default_over_best_mode"} <= set(row)
    assert row["equal_work"]["iterations"] == row["pot_iters_max"] > 0
    # Not the same iterates ("auto" starts from the row and column minima): close, not equal.
    assert row["equal_work"]["max_rel_value_diff_equal_work_float64_vs_pot"] < 1e-6
  assert "command" in res["meta"] and res["meta"]["backend"] == "cpu"
