"""experiments/bench_train runs without PyTorch (the reference side is skipped, not faked)."""

import numpy as np
import pytest

from experiments.bench_train import main as bench


@pytest.fixture(autouse=True)
def _random_images():
  bench.DATA["images"] = "random"
  yield
  bench.DATA["images"] = "fashion_mnist"


def test_executions_row_compares_the_three_executions_on_the_same_runs():
  row = bench.bench_executions(rounds=1, steps=2, seeds=2)
  for m in ("host", "vmap", "scan"):
    assert row[f"{m}_s"] > 0
  assert row["fastest"] in ("host", "vmap", "scan")
  assert row["max_abs_param_diff_vs_host"] < 1e-4  # the same training, whatever the execution
  assert np.isclose(row["vmap_over_host"], row["vmap_s"] / row["host_s"])


def test_profile_sums_step_time_by_operation_kind():
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from experiments.bench_train import profile  # pylint: disable=g-import-not-at-top
  x, y = bench.fashion_mnist(256)
  state, step, batches = bench.wassml_classifier(x, y, vat=False)
  out = profile.profile_step(step, (state, jax.tree.map(jnp.asarray, batches(0)),
                                    jax.random.key(0)), repeats=1)
  assert out["op_ms_per_step"] > 0
  assert "conv_general_dilated" in out["by_kind_ms"]  # the forward convolutions were seen
  assert abs(sum(out["share"].values()) - 1.0) < 0.35  # the top kinds cover most of the time


def test_summary_table_is_generated_from_the_results():
  results = {"smallcnn_cce_epoch": {"wassml_s": 6.0, "torch_s": 4.0, "ratio": 1.5},
             "jumbot_step": {"wassml_s": 3.0, "reference_s": None, "ratio": None},
             "executions": {"seeds": 3, "steps": 60, "batch_size": 128, "fastest": "host",
                            "host_s": 2.0, "vmap_s": 3.6, "scan_s": 3.0,
                            "vmap_over_host": 1.8, "scan_over_host": 1.5},
             "cnn_probe_speedup": {"old_s": 574.0, "new_s": 100.0, "speedup": 5.74},
             "meta": {"command": "python -m experiments.bench_train.main", "jax": "0.10.0"}}
  md = bench.summary_markdown(results)
  assert "| `smallcnn_cce_epoch` | 6 s | 4 s | 1.5 |" in md
  assert "| `jumbot_step` | 3 s | n/a | n/a |" in md  # no PyTorch: said, not faked
  assert "| vmap | 3.6 s | 1.8 |" in md
  assert "**5.74x**" in md and "python -m experiments.bench_train.main" in md


def test_readme_is_the_generated_tables_then_the_reading(tmp_path):
  results = {"smallcnn_cce_epoch": {"wassml_s": 6.0, "torch_s": 4.0, "ratio": 1.5},
             "meta": {"runs": [{"date_utc": "2026-12-08 00:00 UTC", "command": "bench A"},
                               {"date_utc": "2026-12-08 01:00 UTC", "command": "bench B"}]}}
  text = open(bench.write_readme(str(tmp_path), results)).read()
  assert text.index("| `smallcnn_cce_epoch` | 6 s | 4 s | 1.5 |") < text.index("## Reading")
  assert "`bench A`" in text and "`bench B`" in text  # every invocation that wrote rows
