"""The one training loop: executions agree, seeds equal separate runs, exact resume, samplers."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from wassml import data as wdata
from wassml import nn as wnn
from wassml import train as wtrain
from tests.fixtures import Killed, dying

N, D, B = 48, 5, 8


def _data():
  k1, k2 = jax.random.split(jax.random.key(3))
  x = np.asarray(jax.random.normal(k1, (N, D)), np.float32)
  y = np.asarray(jax.random.randint(k2, (N,), 0, 3), np.int32)
  return x, y


# Dropout and batch norm: the step key and the batch statistics both matter. One model and one
# optimiser object, so states of several seeds share their static fields and stack.
_MODEL = wnn.MLP(hidden=(16,), num_outputs=3, dropout_rate=0.2, use_batchnorm=True)
_TX = optax.adam(0.05)


def _state(key):
  return wtrain.create_train_state(key, _MODEL, jnp.zeros((1, D)), _TX)


def _step():
  state = _state(jax.random.key(0))
  return wtrain.make_step(wtrain.classifier_loss(state))


def _close(a, b, tol=2e-5):
  jax.tree_util.tree_map(lambda u, v: np.testing.assert_allclose(u, v, rtol=tol, atol=tol), a, b)


def test_auto_resolves_per_backend_and_unknown_is_an_error():
  assert wtrain.resolve_execution("auto", backend="cpu") == "host"
  assert wtrain.resolve_execution("auto", backend="gpu") == "scan"
  assert wtrain.resolve_execution("auto", backend="tpu") == "scan"
  assert wtrain.resolve_execution("vmap", backend="cpu") == "vmap"
  x, y = _data()
  with pytest.raises(ValueError, match="execution"):
    wtrain.train_loop(_state(jax.random.key(0)), _step(),
                      wtrain.EpochBatches({"x": x, "y": y}, B, jax.random.key(0)),
                      rng=jax.random.key(1), num_steps=2, execution="pmap")


def test_epoch_indices_are_shuffle_batches_and_cover_each_row_once():
  key = jax.random.key(5)
  rows = wdata.epoch_indices(key, 50, 8)
  assert rows.shape == (6, 8)
  np.testing.assert_array_equal(rows, np.stack(list(wdata.shuffle_batches(key, 50, 8))))
  assert len(np.unique(rows)) == 48
  x, y = _data()
  batches = wtrain.EpochBatches({"x": x, "y": y}, B, key)
  assert batches.steps_per_epoch == N // B
  seen = np.concatenate([batches.indices(i) for i in range(batches.steps_per_epoch)])
  np.testing.assert_array_equal(np.sort(seen), np.arange(N))
  first = batches(0)
  np.testing.assert_array_equal(first["x"], x[batches.indices(0)])
  np.testing.assert_array_equal(first["y"], y[batches.indices(0)])
  # The next epoch is another permutation, and asking again gives the same batch.
  assert not np.array_equal(batches.indices(0), batches.indices(batches.steps_per_epoch))
  np.testing.assert_array_equal(batches.indices(1), batches.indices(1))


def test_epoch_batches_per_seed_arrays_and_errors():
  x, y = _data()
  keys = jax.random.split(jax.random.key(0), 2)
  y2 = np.stack([y, (y + 1) % 3])
  batches = wtrain.EpochBatches({"x": x, "y": y2}, B, keys, per_seed=("y",))
  for s in range(2):
    idx = batches.indices(3, s)
    b = batches(3, s)
    np.testing.assert_array_equal(b["y"], y2[s][idx])
    np.testing.assert_array_equal(b["x"], x[idx])
  assert not np.array_equal(batches.indices(0, 0), batches.indices(0, 1))
  with pytest.raises(ValueError, match="batches\\(i, s\\)"):
    batches(0)
  with pytest.raises(ValueError, match="same number of rows"):
    wtrain.EpochBatches({"x": x, "y": y[:-1]}, B, jax.random.key(0))
  with pytest.raises(ValueError, match="batch_size"):
    wtrain.EpochBatches({"x": x}, N + 1, jax.random.key(0))


@pytest.mark.parametrize("execution", ["vmap", "scan"])
def test_single_run_executions_equal_host_stepping(tmp_path, execution):
  x, y = _data()
  batches = wtrain.EpochBatches({"x": x, "y": y}, B, jax.random.key(2))
  runs = {}
  for mode in ("host", execution):
    writer = wtrain.MetricsWriter(tmp_path / mode / "m.jsonl")
    runs[mode] = wtrain.train_loop(_state(jax.random.key(0)), _step(), batches,
                                   rng=jax.random.key(1), num_steps=15, execution=mode,
                                   writer=writer, log_every=4, eval_every=6,
                                   eval_fn=lambda s: {"step": float(s.step)})
    runs[mode] += (writer.read(),)
  (ref, ref_info, ref_log), (got, info, log) = runs["host"], runs[execution]
  assert info["execution"] == execution and ref_info["execution"] == "host"
  _close(got.params, ref.params)
  _close(got.batch_stats, ref.batch_stats)
  assert [r["step"] for r in log] == [r["step"] for r in ref_log]  # 4, 6(eval), 8, 12, 12, 15...
  for a, b in zip(log, ref_log):
    assert a.keys() == b.keys()
    for k in a:
      np.testing.assert_allclose(a[k], b[k], rtol=2e-5)
  assert info["history"] == ref_info["history"]
  assert [h["step"] for h in info["history"]] == [6, 12, 15]


@pytest.mark.parametrize("execution", ["host", "vmap", "scan"])
def test_seeds_equal_separate_runs(execution):
  x, y = _data()
  keys = jax.random.split(jax.random.key(9), 3)
  init_keys = jax.random.split(jax.random.key(4), 3)
  step_keys = jax.random.split(jax.random.key(6), 3)
  batches = wtrain.EpochBatches({"x": x, "y": y}, B, keys)
  states = wtrain.stack_states([_state(k) for k in init_keys])
  got, info = wtrain.train_loop(states, _step(), batches, rng=step_keys, num_steps=13,
                                num_seeds=3, execution=execution,
                                eval_fn=lambda st, s: {"bias": float(jnp.sum(
                                    st.params["Dense_1"]["bias"]))})
  assert len(info["history"]) == 3 and len(info["last_train"]) == 3
  finals = wtrain.unstack_states(got, 3)
  for s in range(3):
    one = wtrain.EpochBatches({"x": x, "y": y}, B, keys[s])
    ref, ref_info = wtrain.train_loop(_state(init_keys[s]), _step(), one, rng=step_keys[s],
                                      num_steps=13, execution="host",
                                      eval_fn=lambda s: {"bias": float(jnp.sum(
                                          s.params["Dense_1"]["bias"]))})
    _close(finals[s].params, ref.params)
    _close(finals[s].opt_state, ref.opt_state)
    np.testing.assert_allclose(info["history"][s][0]["bias"], ref_info["history"][0]["bias"],
                               rtol=2e-5)
  assert not np.allclose(finals[0].params["Dense_1"]["bias"], finals[1].params["Dense_1"]["bias"])


@pytest.mark.parametrize("execution", ["host", "scan"])
def test_killed_seed_run_resumes_to_the_uninterrupted_result(tmp_path, execution):
  x, y = _data()
  keys = jax.random.split(jax.random.key(9), 2)
  batches = wtrain.EpochBatches({"x": x, "y": y}, B, keys)
  states = wtrain.stack_states([_state(k) for k in jax.random.split(jax.random.key(4), 2)])
  step_keys = jax.random.split(jax.random.key(6), 2)
  common = dict(rng=step_keys, num_steps=20, num_seeds=2, execution=execution,
                checkpoint_every=6, log_every=3, eval_every=6,
                eval_fn=lambda st, s: {"b": float(jnp.sum(st.params["Dense_1"]["bias"]))})
  ref, ref_info = wtrain.train_loop(states, _step(), batches, **common)
  wd = tmp_path / "run"
  with pytest.raises(Killed), wtrain.Checkpointer(wd) as ck:
    wtrain.train_loop(states, _step(), dying(batches, 14), checkpointer=ck,
                      writer=wtrain.MetricsWriter(wd / "m.jsonl"), **common)
  with wtrain.Checkpointer(wd) as ck:
    assert ck.latest_step() == 12
    got, info = wtrain.train_loop(states, _step(), batches, checkpointer=ck,
                                  writer=wtrain.MetricsWriter(wd / "m.jsonl"), **common)
  assert info["start_step"] == 12 and info["last_step"] == 20
  _close(got.params, ref.params)
  _close(got.opt_state, ref.opt_state)
  assert info["history"] == ref_info["history"]  # the evaluations before the kill came back
  records = wtrain.read_jsonl(wd / "m.jsonl")
  train_steps = [(r["step"], r["seed"]) for r in records if "train/loss" in r]
  assert sorted(train_steps) == sorted({(t, s) for t in (3, 6, 9, 12, 15, 18, 20)
                                        for s in (0, 1)})  # none lost, none duplicated


def test_run_phase_keeps_a_named_phase_in_its_workdir_and_resumes_it(tmp_path):
  x, y = _data()
  batches = wtrain.EpochBatches({"x": x, "y": y}, B, jax.random.key(9))
  common = dict(rng=jax.random.key(6), num_steps=12, checkpoint_every=4, log_every=4)
  ref, ref_info = wtrain.run_phase(_state(jax.random.key(4)), _step(), batches, workdir=None,
                                   name="fit", **common)
  assert [r["step"] for r in ref_info["records"]] == [4, 8, 12]  # kept in memory
  assert not list(tmp_path.iterdir())
  with pytest.raises(Killed):
    wtrain.run_phase(_state(jax.random.key(4)), _step(), dying(batches, 9), workdir=tmp_path,
                     name="stage/fit", **common)
  assert (tmp_path / "checkpoints" / "stage" / "fit").is_dir()
  got, info = wtrain.run_phase(_state(jax.random.key(4)), _step(), batches, workdir=tmp_path,
                               name="stage/fit", **common)
  assert info["start_step"] == 8
  _close(got.params, ref.params)
  assert info["records"] == wtrain.read_jsonl(tmp_path / "metrics" / "stage" / "fit.jsonl")
  assert [r["step"] for r in info["records"]] == [4, 8, 12]
  np.testing.assert_allclose([r["train/loss"] for r in info["records"]],
                             [r["train/loss"] for r in ref_info["records"]], rtol=1e-5)
  with pytest.raises(TypeError, match="makes its own checkpointer"):
    wtrain.run_phase(ref, _step(), batches, workdir=tmp_path, name="x",
                     checkpointer=None, **common)


def test_seeds_stop_early_on_their_own_and_stay_frozen():
  x, y = _data()
  keys = jax.random.split(jax.random.key(9), 2)
  init = [_state(k) for k in jax.random.split(jax.random.key(4), 2)]
  step_keys = jax.random.split(jax.random.key(6), 2)
  # Seed 0's score gets worse after step 4 (it stops at 8); seed 1's keeps improving.
  tables = [lambda t: {2: 5.0, 4: 4.0}.get(t, 4.0 + t), lambda t: 10.0 - t]
  refs = []
  for s in range(2):
    one = wtrain.EpochBatches({"x": x, "y": y}, B, keys[s])
    refs.append(wtrain.train_loop(
        init[s], _step(), one, rng=step_keys[s], num_steps=12, eval_every=2,
        eval_fn=lambda st, s=s: {"loss": tables[s](int(st.step))},
        early_stopping=wtrain.EarlyStopping(patience=2)))
  assert refs[0][1]["stopped_early"] and int(refs[0][0].step) == 8
  assert not refs[1][1]["stopped_early"] and int(refs[1][0].step) == 12
  batches = wtrain.EpochBatches({"x": x, "y": y}, B, keys)
  for execution in ("host", "vmap", "scan"):
    got, info = wtrain.train_loop(
        wtrain.stack_states(init), _step(), batches, rng=step_keys, num_steps=12, num_seeds=2,
        execution=execution, eval_every=2,
        eval_fn=lambda st, s: {"loss": tables[s](int(st.step))},
        early_stopping=wtrain.EarlyStopping(patience=2))
    assert info["stopped_early"] == [True, False]
    finals = wtrain.unstack_states(got, 2)
    assert int(finals[0].step) == 8 and int(finals[1].step) == 12
    for s in range(2):
      _close(finals[s].params, refs[s][0].params)
      assert info["history"][s] == refs[s][1]["history"]
    assert [h["step"] for h in info["history"][0]] == [2, 4, 6, 8]


def test_seed_arguments_are_checked():
  x, y = _data()
  batches = wtrain.EpochBatches({"x": x, "y": y}, B, jax.random.split(jax.random.key(0), 2))
  states = wtrain.stack_states([_state(jax.random.key(0))] * 2)
  with pytest.raises(ValueError, match="one key per seed"):
    wtrain.train_loop(states, _step(), batches, rng=jax.random.key(1), num_steps=2, num_seeds=2)
  with pytest.raises(ValueError, match="monitors 'acc'"):
    wtrain.train_loop(states, _step(), batches, rng=jax.random.split(jax.random.key(1), 2),
                      num_steps=2, num_seeds=2, eval_fn=lambda st, s: {"loss": 1.0},
                      early_stopping=wtrain.EarlyStopping(patience=1), monitor="acc")
