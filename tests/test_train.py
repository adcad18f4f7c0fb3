"""Tests for wassml.train: steps, combined states, sweeps, checkpoints/resume, evaluation,
early stopping, schedules, logs."""

import json

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from wassml import nn as wnn
from wassml import train as wtrain
from wassml.utils import linalg
from tests.fixtures import Killed


def _regression_problem(n=32, d=3):
  k1, k2 = jax.random.split(jax.random.key(0))
  x = jax.random.normal(k1, (n, d))
  w_true = jnp.arange(1.0, d + 1.0)
  y = x @ w_true + 0.1 * jax.random.normal(k2, (n,))
  return x, y


def _linear_state(d=3, lr=0.1):
  model = wnn.MLP(hidden=(), num_outputs=1)
  return wtrain.create_train_state(jax.random.key(1), model, jnp.zeros((1, d)), optax.sgd(lr))


def _mse_loss(params, batch_stats, batch, rng):
  del rng
  pred = (batch["x"] @ params["Dense_0"]["kernel"])[:, 0] + params["Dense_0"]["bias"][0]
  loss = jnp.mean((pred - batch["y"]) ** 2)
  return loss, ({"mae": jnp.mean(jnp.abs(pred - batch["y"]))}, batch_stats)


def test_make_step_is_one_sgd_update():
  x, y = _regression_problem()
  state = _linear_state()
  step = jax.jit(wtrain.make_step(_mse_loss))
  new, metrics = step(state, {"x": x, "y": y}, jax.random.key(0))
  # Independent: the analytic gradient of the MSE.
  w, b = state.params["Dense_0"]["kernel"][:, 0], state.params["Dense_0"]["bias"][0]
  r = x @ w + b - y
  gw, gb = 2 * x.T @ r / len(y), 2 * jnp.mean(r)
  np.testing.assert_allclose(new.params["Dense_0"]["kernel"][:, 0], w - 0.1 * gw, rtol=1e-5)
  np.testing.assert_allclose(new.params["Dense_0"]["bias"][0], b - 0.1 * gb, rtol=1e-5)
  np.testing.assert_allclose(metrics["loss"], jnp.mean(r ** 2), rtol=1e-5)
  assert int(new.step) == 1 and set(metrics) == {"loss", "mae"}


def test_classifier_loss_matches_optax_and_updates_batch_stats():
  model = wnn.MLP(hidden=(8,), num_outputs=3, use_batchnorm=True)
  x = jax.random.normal(jax.random.key(0), (10, 4))
  y = jnp.arange(10) % 3
  state = wtrain.create_train_state(jax.random.key(1), model, x[:1], optax.adam(1e-2))
  loss_fn = wtrain.classifier_loss(state)
  loss, (metrics, new_bs) = loss_fn(state.params, state.batch_stats, {"x": x, "y": y},
                                    jax.random.key(2))
  logits, _ = model.apply({"params": state.params, "batch_stats": state.batch_stats}, x,
                          train=True, mutable=["batch_stats"])
  ref = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
  np.testing.assert_allclose(loss, ref, rtol=1e-5)
  np.testing.assert_allclose(metrics["accuracy"], np.mean(np.argmax(logits, -1) == y))
  assert not np.allclose(new_bs["BatchNorm_0"]["mean"], state.batch_stats["BatchNorm_0"]["mean"])
  w = jnp.where(y == 0, 1.0, 0.0)
  lw, _ = loss_fn(state.params, state.batch_stats, {"x": x, "y": y, "w": w}, jax.random.key(2))
  per = optax.softmax_cross_entropy_with_integer_labels(logits, y)
  np.testing.assert_allclose(lw, per[y == 0].mean(), rtol=1e-5)


@flax.struct.dataclass
class GanState:
  """Two TrainStates stepped together in one jitted function."""
  generator: wtrain.TrainState
  critic: wtrain.TrainState


def _gan_losses():
  def critic_loss(cparams, gparams, gen, crit, batch):
    fake = gen.apply_fn({"params": gparams}, batch["z"])
    return (jnp.mean(crit.apply_fn({"params": cparams}, fake))
            - jnp.mean(crit.apply_fn({"params": cparams}, batch["x"])))

  def gen_loss(gparams, cparams, gen, crit, batch):
    fake = gen.apply_fn({"params": gparams}, batch["z"])
    return -jnp.mean(crit.apply_fn({"params": cparams}, fake))

  return critic_loss, gen_loss


def test_combined_state_steps_in_one_jit():
  gen = wtrain.create_train_state(jax.random.key(0), wnn.MLP(hidden=(4,), num_outputs=2),
                                  jnp.zeros((1, 1)), optax.sgd(0.1))
  crit = wtrain.create_train_state(jax.random.key(1), wnn.Critic(hidden=(4,)),
                                   jnp.zeros((1, 2)), optax.sgd(0.1))
  critic_loss, gen_loss = _gan_losses()
  batch = {"x": jax.random.normal(jax.random.key(2), (8, 2)),
           "z": jax.random.normal(jax.random.key(3), (8, 1))}

  @jax.jit
  def step(s: GanState, batch, rng):
    del rng
    gc = jax.grad(critic_loss)(s.critic.params, s.generator.params, s.generator, s.critic, batch)
    critic = s.critic.apply_gradients(grads=gc)
    gg = jax.grad(gen_loss)(s.generator.params, critic.params, s.generator, critic, batch)
    return s.replace(critic=critic, generator=s.generator.apply_gradients(grads=gg)), {}

  s1, _ = step(GanState(gen, crit), batch, jax.random.key(0))
  # Reference: the same two updates done one after the other, outside any combined state.
  gc = jax.grad(critic_loss)(crit.params, gen.params, gen, crit, batch)
  crit2 = crit.apply_gradients(grads=gc)
  gen2 = gen.apply_gradients(grads=jax.grad(gen_loss)(gen.params, crit2.params, gen, crit2,
                                                      batch))
  for a, b in ((s1.critic.params, crit2.params), (s1.generator.params, gen2.params)):
    jax.tree_util.tree_map(lambda u, v: np.testing.assert_allclose(u, v, rtol=1e-5), a, b)
  assert int(s1.critic.step) == int(s1.generator.step) == 1


def _tiny_run(key, lr=0.05, num_steps=20):
  """A whole run (init + steps) of a small MLP classifier on a fixed synthetic problem."""
  xs = jax.random.normal(jax.random.key(42), (64, 2))
  ys = (xs[:, 0] * xs[:, 1] > 0).astype(jnp.int32)
  k_init, k_run = jax.random.split(key)
  state = wtrain.create_train_state(k_init, wnn.MLP(hidden=(8,), num_outputs=2,
                                                    dropout_rate=0.1), xs[:1],
                                    optax.sgd(lr))
  step = wtrain.make_step(wtrain.classifier_loss(state))

  def batch_fn(k, i):
    idx = jax.random.choice(k, 64, (16,), replace=False)
    return {"x": xs[idx], "y": ys[idx]}

  state, metrics = wtrain.run_steps(step, state, k_run, num_steps, batch_fn)
  return {"params": state.params, "loss": metrics["loss"]}


_TRACES = []


def _counted_run(key, num_steps=20):
  """``_tiny_run`` that counts its traces (a module-level function: ``sweep`` caches its program)."""
  _TRACES.append(1)
  return _tiny_run(key, num_steps=num_steps)


def test_sweep_over_seeds_equals_separate_runs_in_one_compile():
  traces = []

  def run(key):
    traces.append(1)
    return _tiny_run(key)

  keys = jax.random.split(jax.random.key(7), 3)
  out = wtrain.sweep(run, keys)
  assert len(traces) == 1  # traced (and compiled) once for the whole batch
  _TRACES.clear()
  wtrain.sweep(_counted_run, keys)
  wtrain.sweep(_counted_run, keys)
  assert len(_TRACES) == 1  # called again: the same program, not traced again
  wtrain.sweep(_counted_run, keys, static_kwargs={"num_steps": 3})
  assert len(_TRACES) == 2  # other static arguments: their own program
  wtrain.sweep(run, keys)
  assert len(traces) == 2  # a closure is not cached (it would keep what it captured alive)
  assert out["loss"].shape == (3, 20)
  for i in range(3):
    ref = jax.jit(_tiny_run)(keys[i])
    np.testing.assert_allclose(out["loss"][i], ref["loss"], rtol=2e-5, atol=1e-6)
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a[i], b, rtol=2e-5,
                                                                   atol=1e-6),
                           out["params"], ref["params"])
  assert not np.allclose(out["loss"][0], out["loss"][1])


@pytest.mark.parametrize("vectorize", ["map", "auto"])
def test_sweep_map_equals_vmap(vectorize):
  traces = []

  def run(key):
    traces.append(1)
    return _tiny_run(key)

  keys = jax.random.split(jax.random.key(7), 3)
  ref = wtrain.sweep(_tiny_run, keys, vectorize="vmap")
  out = wtrain.sweep(run, keys, vectorize=vectorize)
  assert len(traces) == 1  # one trace and one compile for the whole batch, runs mapped inside
  jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6), out, ref)
  with pytest.raises(ValueError, match="vectorize"):
    wtrain.sweep(_tiny_run, keys, vectorize="pmap")
  with pytest.raises(ValueError, match="in_axes"):
    wtrain.sweep(lambda h: _tiny_run(h["k"]), {"k": keys}, in_axes=({"k": 0},), vectorize="map")


def test_sweep_over_hyperparameters():
  lrs = jnp.array([0.0, 0.1])
  out = wtrain.sweep(lambda lr: _tiny_run(jax.random.key(0), lr=lr, num_steps=5),
                     lrs)
  ref = jax.jit(lambda lr: _tiny_run(jax.random.key(0), lr=lr, num_steps=5))(lrs[1])
  np.testing.assert_allclose(out["loss"][1], ref["loss"], rtol=2e-5, atol=1e-6)
  init = _tiny_run(jax.random.key(0), lr=0.0, num_steps=1)["params"]
  jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a[0], b, rtol=1e-6),
                         out["params"], init)  # lr 0 never moves
  with pytest.raises(ValueError, match="leading"):
    wtrain.sweep(lambda h: h, {"a": jnp.zeros(2), "b": jnp.zeros(3)})


# ----------------------------------------------------------------------------- resume

def _loop_setup(tmp_path, kill_at=None):
  x, y = _regression_problem(n=40)
  state = _linear_state(lr=0.05)
  state = state.replace(tx=optax.adam(0.05), opt_state=optax.adam(0.05).init(state.params))
  step = jax.jit(wtrain.make_step(_mse_loss))

  def batch_fn(i):
    if kill_at is not None and i == kill_at:
      raise Killed()
    idx = np.random.default_rng(i).choice(40, 8, replace=False)
    return {"x": x[idx], "y": y[idx]}

  return state, step, batch_fn


def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path):
  state0, step, batch_fn = _loop_setup(tmp_path)
  ref, _ = wtrain.train_loop(state0, step, batch_fn, rng=jax.random.key(0), num_steps=23)

  wd = tmp_path / "run"
  _, step, killing = _loop_setup(tmp_path, kill_at=17)
  with pytest.raises(Killed), wtrain.Checkpointer(wd) as ck_killed:
    wtrain.train_loop(state0, step, killing, rng=jax.random.key(0), num_steps=23,
                      checkpointer=ck_killed, checkpoint_every=5,
                      writer=wtrain.MetricsWriter(wd / "m.jsonl"), log_every=1)
  ck = wtrain.Checkpointer(wd)
  assert ck.latest_step() == 15
  assert max(r["step"] for r in wtrain.read_jsonl(wd / "m.jsonl")) == 17
  resumed, info = wtrain.train_loop(state0, step, batch_fn, rng=jax.random.key(0),
                                    num_steps=23, checkpointer=ck, checkpoint_every=5,
                                    writer=wtrain.MetricsWriter(wd / "m.jsonl"), log_every=1)
  assert info["start_step"] == 15 and int(resumed.step) == 23
  jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6),
                         resumed.params, ref.params)
  jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6),
                         resumed.opt_state, ref.opt_state)
  steps = [r["step"] for r in wtrain.read_jsonl(wd / "m.jsonl")]
  assert steps == list(range(1, 24))  # no duplicated or lost records
  assert ck.latest_step() == 23
  ck.close()


def test_early_stopping_state_survives_a_resume(tmp_path):
  state0, step, batch_fn = _loop_setup(tmp_path)
  table = {2: 5.0, 4: 4.0, 6: 4.5, 8: 4.6, 10: 4.7, 12: 4.8, 14: 4.9, 16: 5.0}
  eval_fn = lambda s: {"loss": table[int(s.step)]}  # noqa: E731

  def run(wd, fn):
    es = wtrain.EarlyStopping(patience=2)
    with wtrain.Checkpointer(wd) as ck:
      return wtrain.train_loop(state0, step, fn, rng=jax.random.key(0), num_steps=16,
                               checkpointer=ck, checkpoint_every=2, eval_fn=eval_fn,
                               eval_every=2, early_stopping=es)

  ref, ref_info = run(tmp_path / "ref", batch_fn)
  assert ref_info["stopped_early"] and int(ref.step) == 8  # best 4.0 at step 4, then 2 bad
  _, _, killing = _loop_setup(tmp_path, kill_at=5)
  with pytest.raises(Killed):
    run(tmp_path / "killed", killing)
  resumed, info = run(tmp_path / "killed", batch_fn)
  assert info["start_step"] == 4 and info["stopped_early"] and int(resumed.step) == 8
  jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6),
                         resumed.params, ref.params)
  again, info2 = run(tmp_path / "killed", batch_fn)  # a stopped run stays stopped
  assert info2["stopped_early"] and info2["start_step"] == 8 and int(again.step) == 8
  assert info2["last_eval"] == {"loss": 4.6}


def test_corrupt_and_incompatible_checkpoints_are_reported_not_overwritten(tmp_path):
  state = _linear_state()
  ck = wtrain.Checkpointer(tmp_path)
  ck.save(3, state)
  with pytest.raises(wtrain.CheckpointError, match="already exists"):
    ck.save(3, state)
  other = wtrain.create_train_state(jax.random.key(0), wnn.MLP(hidden=(2,), num_outputs=1),
                                    jnp.zeros((1, 3)), optax.sgd(0.1))
  with pytest.raises(wtrain.CheckpointError, match="incompatible"):
    ck.restore(other)
  # Corrupt every data file of the checkpoint.
  files = [p for p in (tmp_path / "checkpoints" / "3").rglob("*") if p.is_file()
           and "METADATA" not in p.name and "commit_success" not in p.name]
  assert files
  for p in files:
    p.write_bytes(b"garbage")
  snapshot = {p: p.read_bytes() for p in (tmp_path / "checkpoints").rglob("*") if p.is_file()}
  ck.close()
  with pytest.raises(wtrain.CheckpointError, match="corrupt"), wtrain.Checkpointer(tmp_path) as c2:
    c2.restore(state)
  x, y = _regression_problem()
  step = jax.jit(wtrain.make_step(_mse_loss))
  with pytest.raises(wtrain.CheckpointError), wtrain.Checkpointer(tmp_path) as c3:
    wtrain.train_loop(state, step, lambda i: {"x": x, "y": y}, rng=jax.random.key(0),
                      num_steps=5, checkpointer=c3)
  after = {p: p.read_bytes() for p in (tmp_path / "checkpoints").rglob("*") if p.is_file()}
  assert after == snapshot  # untouched
  with pytest.raises(wtrain.CheckpointError, match="No checkpoint"), \
      wtrain.Checkpointer(tmp_path / "empty") as c4:
    c4.restore(state)


# ----------------------------------------------------------------------------- eval etc.
def test_evaluate_classifier_and_predict_padding():
  # Full float32 products: on a GPU the default (TF32) rounds batches of 10 and of 23 differently.
  with linalg.full_precision():
    _check_predict_padding()


def _check_predict_padding():
  model = wnn.MLP(hidden=(5,), num_outputs=3)
  state = wtrain.create_train_state(jax.random.key(0), model, jnp.zeros((1, 4)), optax.sgd(0.1))
  x = np.random.default_rng(0).normal(size=(23, 4)).astype(np.float32)
  y = np.arange(23) % 3
  logits = np.asarray(model.apply({"params": state.params}, x))
  np.testing.assert_allclose(wtrain.predict(state, x, batch_size=10), logits, rtol=1e-5,
                             atol=1e-6)
  out = wtrain.evaluate_classifier(state, x, y, batch_size=10)
  assert out["accuracy"] == pytest.approx(np.mean(logits.argmax(-1) == y))
  lse = np.log(np.exp(logits).sum(-1))
  assert out["loss"] == pytest.approx(np.mean(lse - logits[np.arange(23), y]), rel=1e-5)
  gen = wtrain.evaluate(lambda s, b: {"m": np.mean(b["v"])}, state, {"v": np.arange(23.0)},
                        batch_size=10)
  assert gen["m"] == pytest.approx(11.0)


def test_early_stopping():
  es = wtrain.EarlyStopping(patience=2, mode="min", min_delta=0.01)
  for v in (1.0, 0.5, 0.495, 0.6):
    es = es.update(v)
  assert es.should_stop and es.best == 0.5 and es.best_step == 1
  es = wtrain.EarlyStopping(patience=1, mode="max").update(0.1).update(0.2)
  assert not es.should_stop and es.improved
  with pytest.raises(ValueError, match="NaN"):
    es.update(float("nan"))
  with pytest.raises(ValueError, match="mode"):
    wtrain.EarlyStopping(mode="avg")


def test_schedules():
  s = wtrain.make_schedule("cosine", learning_rate=1.0, num_steps=100)
  assert float(s(0)) == pytest.approx(1.0) and float(s(100)) == pytest.approx(0.0, abs=1e-7)
  assert float(s(50)) == pytest.approx(0.5 * (1 + np.cos(np.pi * 0.5)), rel=1e-5)
  w = wtrain.make_schedule("warmup_cosine", learning_rate=1.0, num_steps=100, warmup_steps=10)
  assert float(w(5)) == pytest.approx(0.5) and float(w(10)) == pytest.approx(1.0)
  p = wtrain.make_schedule("piecewise", learning_rate=1.0, num_steps=10, boundaries=[3],
                           decay_rate=0.1)
  assert float(p(2)) == 1.0 and float(p(4)) == pytest.approx(0.1)
  with pytest.raises(ValueError, match="valid names"):
    wtrain.make_schedule("linear", learning_rate=1.0, num_steps=10)


def test_metrics_writer_and_plot(tmp_path):
  w = wtrain.MetricsWriter(tmp_path / "a" / "m.jsonl")
  for s in range(1, 6):
    w.write(s, {"loss": jnp.asarray(1.0 / s), "acc": np.float32(s / 10)})
  with (tmp_path / "a" / "m.jsonl").open("a") as f:
    f.write('{"step": 6, "loss"')  # a line cut by a kill
  recs = w.read()
  assert [r["step"] for r in recs] == [1, 2, 3, 4, 5] and recs[1]["loss"] == 0.5
  w.truncate_after(3)
  assert [r["step"] for r in w.read()] == [1, 2, 3]
  png = wtrain.plot_metrics(w.read(), ["loss", "acc"], tmp_path / "p.png")
  assert png.read_bytes()[:4] == b"\x89PNG"
  json.loads((tmp_path / "a" / "m.jsonl").read_text().splitlines()[0])
