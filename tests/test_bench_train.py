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
