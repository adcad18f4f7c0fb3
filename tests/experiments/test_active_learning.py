"""The active-learning quick config end to end (digits, MLP, random vs DFAL, a prototype toy)."""

import json

import numpy as np
import pytest

from experiments.active_learning import train
from experiments.active_learning.configs import quick


def test_quick_config(tmp_path):
  config = quick.get_config()
  results = train.train_and_evaluate(config, str(tmp_path))
  saved = json.loads((tmp_path / "results.json").read_text())
  for key in ("dfal_auc", "random_auc", "full_data_accuracy", "table_4_2", "curves", "targets", "prototypes"):
    assert key in saved, key
  assert saved["dfal_auc"] == results["dfal_auc"]
  # ten classes: chance is 0.1; the learning curves must be far above it and rise with labels
  assert saved["full_data_accuracy"] > 0.9
  assert saved["random_auc"] > 0.4 and saved["dfal_auc"] > 0.4
  for name in ("random", "dfal"):
    acc = np.asarray(saved["curves"][name]["accuracy_mean"])
    assert acc.shape == (len(config.schedule),)
    assert acc[-1] > acc[0] + 0.15
  # DFAL trains on its queries plus their adversarial copies
  assert saved["curves"]["dfal"]["num_train_mean"][-1] == 2 * config.schedule[-1] - config.schedule[0]
  circle = saved["prototypes"]["circle"]
  assert circle["exact_below_random_every_k"]
  assert (tmp_path / "learning_curves.png").exists() and (tmp_path / "prototypes_circle.png").exists()


def test_default_config_is_paper_scale():
  from experiments.active_learning.configs import default
  from wassml.active_learning import list_strategies

  c = default.get_config()
  assert c.dataset == "fashion_mnist" and c.model == "lenet5" and c.num_seeds == 3
  assert c.schedule[0] == 10 and c.schedule[-1] == 1000
  assert sorted(c.strategies) == list_strategies()
  assert c.pool_size == 0 and c.test_size == 0  # the whole 60k / 10k
  assert c.transfer.model == "vgg8" and tuple(c.vgg_widths) == (64, 120, 128, 256, 256) and c.vgg_dense == 4096
  assert tuple(c.benchmark.labelled_sizes) == (100, 1000) and c.benchmark.num_unlabelled == 800
  assert all(c.parts.values())
  assert train.make_model(c.model, 10, c).__class__.__name__ == "LeNet5"


def test_query_time_benchmark_part(tmp_path):
  """Table 4.3's form on a tiny problem: every row timed, DFAL compiled once for all sizes and |L|."""
  config = quick.get_config()
  config.parts.curves = config.parts.transfer = config.parts.prototypes = False
  config.parts.benchmark = True
  b = config.benchmark
  b.labelled_sizes, b.num_unlabelled, b.candidate_sizes = (20, 40), 30, (15, 30)
  b.repeats, b.train_steps, b.num_queries = 1, 5, 3
  bench = train.train_and_evaluate(config, str(tmp_path))["benchmark"]
  assert [(r["labelled"], r["unlabelled"]) for r in bench["rows"]] == [(20, 15), (20, 30), (40, 15), (40, 30)]
  for r in bench["rows"]:
    assert r["dfal_seconds_median"] > 0 and r["coreset_seconds_median"] > 0
    assert r["coreset_over_dfal"] == r["coreset_seconds_median"] / r["dfal_seconds_median"]
  # one compiled DeepFool step serves every candidate count and both models
  assert [r["dfal_programs_compiled_by_first_call"] for r in bench["rows"]][1:] == [0, 0, 0]
  for a in bench["dfal_attacks"]:
    assert sum(a["num_iters_histogram"]) == 30 and 0 < a["num_iters_mean"] <= 10


def test_full_data_reference_is_reused_only_with_the_same_settings(tmp_path):
  from experiments.active_learning.configs import cpu  # noqa: PLC0415

  config = cpu.get_config()
  path = tmp_path / "results.json"
  path.write_text(json.dumps({"config": json.loads(json.dumps(config.to_dict())), "full_data_accuracy": 0.5,
                              "full_data_accuracy_per_seed": [0.4, 0.5, 0.6]}))
  got = train.reuse_full_data(config, str(path))
  assert got["full_data_accuracy"] == 0.5 and got["full_data_accuracy_per_seed"] == [0.4, 0.5, 0.6]
  config.lenet_dense = (84, 10)  # another model: its reference does not apply
  with pytest.raises(ValueError, match="lenet_dense"):  # a reference of another model is not reused
    train.reuse_full_data(config, str(path))


def test_full_data_reference_by_epoch(tmp_path):
  """full_eval_epochs: the reference is the last listed epoch's accuracy; each listed epoch is logged."""
  config = quick.get_config()
  config.strategies = ("random",)
  config.schedule = (10, 20)
  config.num_seeds = 2
  config.parts.prototypes = False
  config.full_batch_size = 64
  config.full_eval_epochs = (1, 3)
  saved = train.train_and_evaluate(config, str(tmp_path))
  trace = saved["full_data_by_epoch"]
  assert trace["epochs"] == [1, 3] and trace["batch_size"] == 64
  assert trace["steps_per_epoch"] == int(np.ceil(saved["pool_size"] / 64))
  per_seed = np.asarray(trace["accuracy_per_seed"], float)
  assert per_seed.shape == (2, 2) and np.all(np.isfinite(per_seed))
  np.testing.assert_allclose(saved["full_data_accuracy_per_seed"], per_seed[:, -1])
  assert saved["full_data_seeds_done"] == 2
  assert saved["full_data_accuracy"] > 0.6  # digits MLP after 3 epochs (chance 0.1)


def test_every_config_builds_with_valid_strategies():
  import importlib  # noqa: PLC0415
  import pathlib  # noqa: PLC0415

  from wassml.active_learning import list_strategies  # noqa: PLC0415

  folder = pathlib.Path(train.__file__).parent / "configs"
  names = sorted(p.stem for p in folder.glob("*.py") if p.stem not in ("__init__", "base"))
  assert {"quick", "default", "cpu", "cpu_all", "cpu_transfer", "digits_curves"} <= set(names)
  for name in names:
    c = importlib.import_module(f"experiments.active_learning.configs.{name}").get_config()
    assert set(c.strategies) <= set(list_strategies()), name
    assert list(c.schedule) == sorted(set(c.schedule)), name
    if c.get("full_data_from", ""):  # a reused reference must match the config's data / model / seeds
      train.reuse_full_data(c, c.full_data_from)


def test_transfer_is_written_per_strategy_and_reused(tmp_path, monkeypatch):
  """Table 4.4's part: each strategy's result is stored when done and not retrained on a restart."""
  config = quick.get_config()
  config.schedule = (10, 20)
  config.num_seeds = 2
  config.min_steps = config.max_steps = 20
  config.full_data = False
  config.parts.prototypes = False
  config.parts.transfer = True
  config.transfer.model = "mlp"
  config.transfer.strategies = ("dfal", "random")
  config.transfer.max_steps = 20
  first = train.train_and_evaluate(config, str(tmp_path))["transfer"]
  assert set(first) == {"dfal", "dfal_annotated_only", "random"}
  for name in first:
    stored = json.loads((tmp_path / "transfer" / f"{name}.json").read_text())
    assert stored["result"]["accuracy_per_seed"] == first[name]["accuracy_per_seed"]
    assert len(first[name]["accuracy_per_seed"]) == 2 and first[name]["annotations"] == 20
  # DFAL's set holds its adversarial copies: 10 initial + 10 queried + 10 copies; without them 20
  assert first["dfal"]["training_set_size"] == [30, 30]
  assert first["dfal_annotated_only"]["training_set_size"] == [20, 20]
  assert first["random"]["training_set_size"] == [20, 20]

  class Retrained(Exception):
    pass

  def no_training(*args, **kwargs):
    raise Retrained("a stored transfer result was retrained")

  monkeypatch.setattr(train, "_fit_and_score", no_training)
  again = train.train_and_evaluate(config, str(tmp_path))["transfer"]
  assert again == first
  config.transfer.max_steps = 21  # other settings: the stored results do not apply
  with pytest.raises(Retrained):  # a transfer result of other settings is not reused
    train.train_and_evaluate(config, str(tmp_path))
