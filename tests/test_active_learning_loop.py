"""Active-learning strategies, scores, prototypes and the pool loop on tiny data (test_active_learning_loop)."""

import itertools
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import ot as pot  # POT: independent reference (tests only)
import pytest
from sklearn.datasets import load_digits

from wassml import nn
from wassml.active_learning import (Classifier, LoopConfig, QueryContext, coreset, greedy_mmd_prototypes,
                                    greedy_wasserstein_prototypes, label_schedule, list_strategies, run_pool_loop,
                                    scores, select, strategies, training, wasserstein_to_target)
from wassml.active_learning import loop as loop_lib
from wassml.train import classifier_loss, create_train_state, make_step

MODULE = nn.MLP(hidden=(16,), num_outputs=10, dropout_rate=0.2)


@pytest.fixture(scope="module")
def digits():
  d = load_digits()
  x = (d.images / 16.0).astype(np.float32)[..., None]
  return x[:400], d.target[:400].astype(np.int32), x[1400:], d.target[1400:].astype(np.int32)


@pytest.fixture(scope="module")
def trained(digits):
  x, y, _, _ = digits
  v = training.fit_seeds(jax.random.split(jax.random.key(0), 1), MODULE, x[None, :40], y[None, :40],
                         np.array([40]), num_steps=60)
  return Classifier(MODULE, training.unstack(v, 0))


SETTINGS = {
    "balnet": {"preselect_factor": 2},
    "dqbc": {"finetune_steps": 5},
    "wasserstein": {"max_target": 60},
}


@pytest.mark.parametrize("name", list_strategies())
def test_each_strategy_returns_distinct_unlabelled_indices(name, digits, trained):
  x, y, _, _ = digits
  labelled = np.arange(40)
  cand = np.arange(40, 160)
  ctx = QueryContext(x=x, labelled=labelled, y_labelled=y[labelled], candidates=cand, classifier=trained, round=1)
  q = select(jax.random.key(3), name, ctx, 7, **SETTINGS.get(name, {}))
  assert q.indices.shape == (7,)
  assert len(np.unique(q.indices)) == 7
  assert np.all(np.isin(q.indices, cand)) and not np.any(np.isin(q.indices, labelled))
  assert q.scores.shape == (7,)
  if name == "dfal":
    assert q.adversarial_x.shape == (7, *x.shape[1:])
    # the adversarial copies flip the prediction of the model they were built on
    assert np.mean(np.argmax(trained.logits(q.adversarial_x), -1) != np.argmax(trained.logits(x[q.indices]), -1)) >= 0.8
  if name in ("uncertainty", "bald", "egl", "dqbc"):
    assert np.all(np.diff(q.scores) <= 1e-6)  # top scores, best first


def test_scoring_functions_against_brute_force():
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(6, 4))
  p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
  np.testing.assert_allclose(scores.entropy_scores(logits), -(p * np.log(p)).sum(1), rtol=1e-5)
  mc = rng.normal(size=(10, 6, 4))
  pm = np.exp(mc) / np.exp(mc).sum(-1, keepdims=True)
  h = lambda q: -(q * np.log(q)).sum(-1)
  np.testing.assert_allclose(scores.bald_scores(mc), h(pm.mean(0)) - h(pm).mean(0), rtol=1e-4, atol=1e-6)
  # rg(x): committee of 3 on 2 examples
  probs = np.array([[[0.6, 0.3, 0.1], [0.2, 0.5, 0.3]],
                    [[0.2, 0.7, 0.1], [0.1, 0.8, 0.1]],
                    [[0.5, 0.4, 0.1], [0.4, 0.3, 0.3]]])
  # example 0: votes 0,1,0 -> label 0: rg = (0.6-0.6)+(0.7-0.2)+(0.5-0.5) = 0.5
  # example 1: votes 1,1,0 -> label 1: rg = 0 + 0 + (0.4-0.3) = 0.1
  np.testing.assert_allclose(scores.committee_margin_scores(probs), [0.5, 0.1], atol=1e-6)


def test_egl_matches_per_example_gradient_norms(trained, digits):
  x = digits[0][:3]
  apply = trained.eval_apply
  got = scores.egl_scores(apply, trained.variables, x)
  # Both loops give the same scores (the host loop is the CPU default).
  np.testing.assert_allclose(scores.egl_scores(apply, trained.variables, x, loop="map"),
                             scores.egl_scores(apply, trained.variables, x, loop="host"), rtol=1e-5)
  with pytest.raises(ValueError, match="unknown loop='vmap'"):
    scores.egl_scores(apply, trained.variables, x, loop="vmap")
  assert scores.egl_scores(apply, trained.variables, x[:0]).shape == (0,)
  for i in range(3):
    p = jax.nn.softmax(apply(trained.variables, x[i : i + 1])[0])
    want = 0.0
    for k in range(10):
      g = jax.grad(lambda v: -jax.nn.log_softmax(apply(v, x[i : i + 1])[0])[k])(trained.variables)
      want += p[k] * jnp.sqrt(sum(jnp.sum(l**2) for l in jax.tree.leaves(g)))
    np.testing.assert_allclose(got[i], want, rtol=1e-4)


def test_k_center_greedy_matches_brute_force():
  rng = np.random.default_rng(1)
  centers, cand = rng.normal(size=(5, 3)), rng.normal(size=(30, 3))
  idx, radius = coreset.k_center_greedy(centers, cand, 4)
  chosen = list(centers)
  for t in range(4):
    d = np.min(((cand[:, None] - np.asarray(chosen)[None]) ** 2).sum(-1), axis=1)
    d[np.asarray(idx[:t], int)] = -1
    assert int(idx[t]) == int(np.argmax(d))
    np.testing.assert_allclose(radius[t], np.sqrt(d.max()), rtol=1e-4)
    chosen.append(cand[int(idx[t])])


def test_balnet_greedy_objective_matches_direct_trace(trained, digits):
  x = digits[0]
  parts = strategies.balnet_scores(trained, x[:30], x[30:60])
  order, obj = strategies.balnet_greedy(parts["s_psi"], parts["s_tau"], parts["c_psi"], parts["c_tau"], 30, 3)
  from wassml.active_learning import kfac
  # direct: factors of A and of A ∪ B, trace ratio with the same damping
  fa = [kfac.kfac_factors(s) for s in kfac.layer_stats(trained.eval_apply, trained.variables, x[:30])]
  xb = np.concatenate([x[:30], x[30:60][order]])
  fab = [kfac.kfac_factors(s) for s in kfac.layer_stats(trained.eval_apply, trained.variables, xb)]
  np.testing.assert_allclose(obj[-1], float(kfac.trace_ratio(fab, fa)), rtol=2e-3)
  # greedy first pick = the single best candidate by brute force
  single = []
  for j in range(30):
    fj = [kfac.kfac_factors(s) for s in kfac.layer_stats(trained.eval_apply, trained.variables,
                                                          np.concatenate([x[:30], x[30 + j : 31 + j]]))]
    single.append(float(kfac.trace_ratio(fj, fa)))
  assert int(order[0]) == int(np.argmax(single))


def _pot_emd(cost, a, b):
  class R:
    pass
  r = R()
  r.transport_cost = pot.emd2(np.asarray(a, np.float64), np.asarray(b, np.float64), np.asarray(cost, np.float64))
  return r


def test_greedy_wasserstein_prototypes_brute_force_steps():
  rng = np.random.default_rng(2)
  xc = rng.normal(size=(12, 2)).astype(np.float32)
  xt = rng.normal(size=(15, 2)).astype(np.float32)
  from wassml import ot
  res = greedy_wasserstein_prototypes(xc, xt, 3, solver=ot.emd)
  chosen = []
  for t in range(3):
    vals = []
    for j in range(12):
      if j in chosen:
        vals.append(np.inf)
        continue
      s = xc[chosen + [j]]
      vals.append(pot.emd2(np.full(len(s), 1 / len(s)), np.full(15, 1 / 15), pot.dist(s, xt)))
    assert int(res.indices[t]) == int(np.argmin(vals))
    np.testing.assert_allclose(res.objective[t], np.sqrt(np.min(vals)), rtol=1e-4)
    chosen.append(int(np.argmin(vals)))
  np.testing.assert_allclose(wasserstein_to_target(xc[res.indices], xt), res.objective[-1], rtol=1e-4)


def test_prototypes_with_entropic_solvers_and_mmd_run():
  from wassml.active_learning import make_solver
  rng = np.random.default_rng(3)
  xc = rng.normal(size=(20, 2)).astype(np.float32)
  for name in ("sinkhorn", "ipot"):
    res = greedy_wasserstein_prototypes(xc, xc, 4, solver=make_solver(name))
    assert len(np.unique(res.indices)) == 4 and np.all(np.isfinite(res.objective))
  mmd = greedy_mmd_prototypes(xc, xc, 4)
  # brute-force first MMD pick: argmin_j k(j,j) - 2 mean_q k(j,q)
  d = ((xc[:, None] - xc[None]) ** 2).sum(-1)
  h2 = np.median(d[d > 0]) / 2
  kk = np.exp(-d / (2 * h2))
  assert int(mmd.indices[0]) == int(np.argmin(1 - 2 * kk.mean(1)))
  assert np.all(np.diff(mmd.objective[:2]) <= 0)
  with pytest.raises(ValueError, match="k=30"):
    greedy_mmd_prototypes(xc, xc, 30)


def test_bad_inputs(digits, trained):
  x, y, xt, yt = digits
  ctx = QueryContext(x=x, labelled=np.arange(10), y_labelled=y[:10], candidates=np.arange(10, 15), classifier=trained)
  with pytest.raises(ValueError, match="larger than the candidate pool"):
    select(jax.random.key(0), "random", ctx, 6)
  with pytest.raises(ValueError, match="valid strategies: .*dfal"):
    select(jax.random.key(0), "dfa", ctx, 2)
  empty = QueryContext(x=x, labelled=np.zeros(0, int), y_labelled=np.zeros(0, int), candidates=np.arange(20))
  with pytest.raises(ValueError, match="needs a model"):
    select(jax.random.key(0), "dfal", empty, 2)
  with pytest.raises(ValueError, match="initial labelled set is empty"):
    run_pool_loop(MODULE, x, y, xt, yt, LoopConfig(strategy="uncertainty", schedule=(0, 5)), progress=False)
  with pytest.raises(ValueError, match="exceeds the pool"):
    run_pool_loop(MODULE, x[:8], y[:8], xt, yt, LoopConfig(strategy="random", schedule=(2, 10)), progress=False)
  with pytest.raises(ValueError, match="unknown active-learning strategy"):
    run_pool_loop(MODULE, x, y, xt, yt, LoopConfig(strategy="nope", schedule=(2, 10)), progress=False)
  assert label_schedule(10, 100) == (10, 20, 40, 80, 100)


CFG = dict(strategy="dfal", schedule=(6, 10, 14, 18), num_seeds=2, seed=5, min_steps=15, max_steps=15, batch_size=16)


def test_loop_resumes_exactly_after_a_kill(digits, tmp_path, monkeypatch):
  x, y, xt, yt = digits
  x, y = x[:150], y[:150]
  full = run_pool_loop(MODULE, x, y, xt, yt, LoopConfig(**CFG), workdir=tmp_path / "a", progress=False)
  assert full.rounds_done == 4
  # every label distinct, in the right rounds, adversarial copies kept
  for s in range(2):
    order = full.label_order[s]
    assert len(np.unique(order)) == 18 and np.all(order >= 0)
    np.testing.assert_array_equal(np.sort(np.flatnonzero(full.label_round[s] >= 0)), np.sort(order))
    np.testing.assert_array_equal(full.label_round[s][order], np.repeat([0, 1, 2, 3], [6, 4, 4, 4]))
  assert np.all(full.state["n_adv"] == 12)
  np.testing.assert_array_equal(full.num_train[:, -1], [18 + 12, 18 + 12])

  # kill: training of the 3rd round blows up, after 2 rounds were checkpointed
  calls = {"n": 0}
  real_fit = training.fit_seeds

  def dying_fit(*a, **k):
    calls["n"] += 1
    if calls["n"] == 3:
      raise KeyboardInterrupt("killed")
    return real_fit(*a, **k)

  monkeypatch.setattr(training, "fit_seeds", dying_fit)
  with pytest.raises(KeyboardInterrupt):
    run_pool_loop(MODULE, x, y, xt, yt, LoopConfig(**CFG), workdir=tmp_path / "b", progress=False)
  monkeypatch.setattr(training, "fit_seeds", real_fit)
  resumed = run_pool_loop(MODULE, x, y, xt, yt, LoopConfig(**CFG), workdir=tmp_path / "b", progress=False)
  np.testing.assert_array_equal(resumed.label_order, full.label_order)
  np.testing.assert_array_equal(resumed.label_round, full.label_round)
  np.testing.assert_allclose(resumed.accuracy, full.accuracy)
  np.testing.assert_array_equal(resumed.state["adv_x"], full.state["adv_x"])
  # the budget is now spent: running again is a clear error
  with pytest.raises(ValueError, match="budget .* already spent"):
    run_pool_loop(MODULE, x, y, xt, yt, LoopConfig(**CFG), workdir=tmp_path / "b", progress=False)
  # ... but a driver can pick the finished loop up as it is; an unfinished or absent one gives None
  done = loop_lib.load_finished_loop(LoopConfig(**CFG), x.shape[1:], len(x), tmp_path / "b")
  np.testing.assert_array_equal(done.label_order, full.label_order)
  np.testing.assert_allclose(done.accuracy, full.accuracy)
  assert done.rounds_done == 4
  assert loop_lib.load_finished_loop(LoopConfig(**CFG), x.shape[1:], len(x), tmp_path / "nothing") is None
  longer = LoopConfig(**{**CFG, "schedule": (6, 10, 14, 18, 22)})
  with pytest.raises(Exception):  # other shapes than the checkpoint's: never silently reinterpreted
    loop_lib.load_finished_loop(longer, x.shape[1:], len(x), tmp_path / "b")


def test_loop_ceal_pseudo_labels_are_transient(digits):
  x, y, xt, yt = digits
  res = run_pool_loop(MODULE, x[:150], y[:150], xt, yt,
                      LoopConfig(strategy="ceal", schedule=(10, 15, 20), strategy_settings={"threshold": 0.5, "decay": 0.0},
                                 min_steps=30, max_steps=30), progress=False)
  # pseudo-labelled examples are never counted as labels
  assert len(np.unique(res.label_order[0])) == 20
  assert np.all(res.num_train[0] >= np.asarray([10, 15, 20]))


def test_fit_with_milestones_is_fit_seeds_cut_into_segments(digits):
  """The full-data reference's segmented training is the same run as fit_seeds (same keys and steps)."""
  x, y, _, _ = digits
  key = jax.random.key(5)
  whole = training.fit_seeds(key[None], MODULE, x[None, :100], y[None, :100], np.array([100]), num_steps=30,
                             batch_size=8)
  seen = []
  last = training.fit_with_milestones(key, MODULE, x[:100], y[:100], milestones=(10, 25, 30), batch_size=8,
                                      on_milestone=lambda m, v: seen.append(m))
  assert seen == [10, 25, 30]
  for a, b in zip(jax.tree.leaves(training.unstack(whole, 0)), jax.tree.leaves(last), strict=True):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
  with pytest.raises(ValueError, match="milestones"):
    training.fit_with_milestones(key, MODULE, x[:10], y[:10], milestones=(5, 5))


def test_fit_seeds_executions_train_the_same_models():
  """fit_seeds through train_loop: host stepping (one compiled step per call, the CPU default),
  the vmapped step and the scanned chunks train the same models (same keys, minibatches and
  dropout; float rounding only), with a CNN (the case host stepping exists for) and unequal
  labelled sets; per-seed evaluation equals the vmapped one."""
  x, y, xt, yt = (np.asarray(a) for a in load_digits_small())
  module = nn.LeNet5(num_classes=10, dense=(12, 10))
  xs = np.stack([x[:40], x[40:80]])
  ys = np.stack([y[:40], y[40:80]])
  ns = np.array([40, 25])
  keys = jax.random.split(jax.random.key(3), 2)
  fits = {m: training.fit_seeds(keys, module, xs, ys, ns, num_steps=7, batch_size=8, execution=m)
          for m in ("host", "vmap", "scan")}
  moved = 0.0
  init = training.fit_seeds(keys, module, xs, ys, ns, num_steps=0, batch_size=8, execution="host")
  for a, b, c, i in zip(*(jax.tree.leaves(fits[m]) for m in ("host", "vmap", "scan")),
                        jax.tree.leaves(init), strict=True):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(a), np.asarray(c), rtol=1e-4, atol=1e-5)
    moved = max(moved, float(np.max(np.abs(np.asarray(a) - np.asarray(i)))))
  assert moved > 1e-3  # the 7 steps did train (the comparison is not between two initialisations)
  acc_seq = training.accuracy_seeds(module, fits["host"], xt, yt, batch_size=64, per_seed=True)
  acc_vec = training.accuracy_seeds(module, fits["host"], xt, yt, batch_size=64, per_seed=False)
  np.testing.assert_array_equal(acc_seq, acc_vec)
  with pytest.raises(ValueError, match="execution"):
    training.fit_seeds(keys, module, xs, ys, ns, num_steps=1, execution="pmap")
  # A later call (another round, another step count) reuses the vmapped program: no new trace.
  cache = sys.modules["wassml.train.loop"]._program
  before = cache.cache_info()
  training.fit_seeds(keys, module, xs, ys, ns, num_steps=3, batch_size=8, execution="vmap")
  after = cache.cache_info()
  assert (after.hits, after.misses) == (before.hits + 1, before.misses)


def test_fit_seeds_draws_the_minibatches_of_the_padded_sets():
  """Seed s trains on rows drawn from its first n_valid[s] rows only, with the key split
  (k_rows, k_step) = split(fold_in(loop_key, i)) of the earlier hand-written loop: a seed
  whose padding holds garbage labels trains the model of the unpadded set."""
  x, y, _, _ = (np.asarray(a) for a in load_digits_small())
  module = nn.MLP(hidden=(8,), num_outputs=10, dropout_rate=0.2)
  key = jax.random.key(11)
  xs = np.stack([x[:30], np.concatenate([x[:20], 9.0 + x[20:30]])])
  ys = np.stack([y[:30], np.concatenate([y[:20], np.full(10, 7, np.int32)])])
  padded = training.fit_seeds(jnp.stack([key, key]), module, xs, ys, np.array([30, 20]),
                              num_steps=6, batch_size=4)
  alone = training.fit_seeds(key[None], module, x[None, :20], y[None, :20], np.array([20]),
                             num_steps=6, batch_size=4)
  for a, b in zip(jax.tree.leaves(padded), jax.tree.leaves(alone), strict=True):
    np.testing.assert_allclose(np.asarray(a)[1], np.asarray(b)[0], rtol=1e-5, atol=1e-6)

  # the keys of the earlier fori_loop body: init from split(key)[0], rows and dropout from
  # split(fold_in(split(key)[1], i))
  init_key, loop_key = jax.random.split(key)
  state = create_train_state(init_key, module, jnp.asarray(x[:1]), optax.adam(1e-3))
  step = jax.jit(make_step(classifier_loss(module.apply)))
  for i in range(6):
    k_idx, k_step = jax.random.split(jax.random.fold_in(loop_key, i))
    idx = np.asarray(jax.random.randint(k_idx, (4,), 0, 20))
    state, _ = step(state, {"x": x[idx], "y": y[idx]}, k_step)
  for a, b in zip(jax.tree.leaves(alone["params"]), jax.tree.leaves(state.params), strict=True):
    np.testing.assert_allclose(np.asarray(a)[0], np.asarray(b), rtol=1e-5, atol=1e-6)


def load_digits_small():
  d = load_digits()
  x = (d.images / 16.0).astype(np.float32)[..., None]
  x = np.pad(x, ((0, 0), (10, 10), (10, 10), (0, 0)))  # 28x28, LeNet5's input size
  return x[:80], d.target[:80].astype(np.int32), x[1600:1700], d.target[1600:1700].astype(np.int32)


def test_greedy_prototypes_padding_does_not_change_the_choice():
  """Padded candidate chunks and bucketed rows (one compiled IPOT per bucket) pick what the unpadded greedy picks."""
  from wassml.active_learning import make_solver
  rng = np.random.default_rng(4)
  xc = rng.normal(size=(37, 3)).astype(np.float32)
  xt = rng.normal(size=(25, 3)).astype(np.float32)
  xf = rng.normal(size=(5, 3)).astype(np.float32)
  solver = make_solver("ipot", num_iters=30)
  assert make_solver("ipot", num_iters=30) is solver  # cached: the compiled solver is reused across calls
  plain = greedy_wasserstein_prototypes(xc, xt, 6, solver=solver, x_fixed=xf, chunk_size=1000)
  for kw in ({"chunk_size": 8}, {"chunk_size": 8, "pad": True}, {"chunk_size": 16, "pad": True, "row_bucket": 4}):
    res = greedy_wasserstein_prototypes(xc, xt, 6, solver=solver, x_fixed=xf, **kw)
    np.testing.assert_array_equal(res.indices, plain.indices)
    np.testing.assert_allclose(res.objective, plain.objective, rtol=1e-3)


def test_mc_logits_pads_chunks_but_returns_the_valid_rows(digits, trained):
  x = digits[0][:13]
  clf = Classifier(trained.module, trained.variables, batch_size=8)
  mc = clf.mc_logits(jax.random.key(0), x, num_samples=3)
  assert mc.shape == (3, 13, 10)
  # dropout off: every pass is the deterministic model, padding or not
  off = Classifier(nn.MLP(hidden=(16,), num_outputs=10, dropout_rate=0.0), trained.variables, batch_size=8)
  np.testing.assert_allclose(np.asarray(off.mc_logits(jax.random.key(0), x, 2))[1], np.asarray(trained.logits(x)),
                             rtol=1e-5, atol=1e-5)
