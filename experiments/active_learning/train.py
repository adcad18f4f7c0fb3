"""Active-learning experiments of Ducoffe's thesis (part I, ch. 9) on offline data.

Parts (each switched on by the config):

1. ``curves``: pool-based learning curves of every strategy (several seeds, vmapped training,
   checkpointed loop: a killed run resumes), the full-data reference accuracy, the area under
   each learning curve, and Table 4.2's form: labels each strategy needs to reach full-data
   accuracy minus ``target_gap`` points, and the accuracy at the budget.
2. ``transfer``: Table 4.4's form: the final labelled sets chosen with the loop's model (LeNet5)
   train another architecture (VGG8).
3. ``benchmark``: Table 4.3's form: time to select ``k`` queries for DFAL vs CORE-SET at two
   labelled-set sizes, measured side by side in this process.
4. ``prototypes``: ``W(S, P)`` against ``K`` for greedy-exact / greedy-IPOT / greedy-Sinkhorn /
   MMD / random prototypes on the thesis's toys and on a real dataset's features.
"""

from __future__ import annotations

import functools
import json
import os
import pathlib
import platform
import time
from typing import Any

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import ml_collections  # noqa: E402
import numpy as np  # noqa: E402

from wassml import data, nn  # noqa: E402
from wassml import ot as wot  # noqa: E402
from wassml.active_learning import (Classifier, LoopConfig, QueryContext, greedy_mmd_prototypes,  # noqa: E402
                                    greedy_wasserstein_prototypes, make_solver, random_prototypes, run_pool_loop,
                                    select, training, wasserstein_to_target)
from wassml.active_learning import loop as loop_lib  # noqa: E402


# ----------------------------------------------------------------------------------------------
# data and models
# ----------------------------------------------------------------------------------------------
def load_data(config) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
  """Pool and test arrays: random subsets of ``pool_size`` / ``test_size`` (all if 0)."""
  tr = data.load(config.dataset, "train")
  te = data.load(config.dataset, "test")
  rng = np.random.default_rng(config.data_seed)
  pi = rng.permutation(len(tr.x))[: config.pool_size or None]
  ti = rng.permutation(len(te.x))[: config.test_size or None]
  return tr.x[pi].astype(np.float32), tr.y[pi], te.x[ti].astype(np.float32), te.y[ti], tr.num_classes


def make_model(name: str, num_classes: int, config) -> Any:
  if name == "mlp":
    return nn.MLP(hidden=tuple(config.mlp_hidden), num_outputs=num_classes, dropout_rate=0.25)
  if name == "lenet5":
    return nn.LeNet5(num_classes=num_classes, dense=tuple(config.get("lenet_dense", (84, 10))))
  if name == "vgg8":
    return nn.VGG8(num_classes=num_classes, widths=tuple(config.vgg_widths), dense=int(config.vgg_dense))
  raise ValueError(f"unknown model {name!r}; valid: ['lenet5', 'mlp', 'vgg8']")


def _fit_and_score(module, keys, xs, ys, ns, x_test, y_test, *, epochs, min_steps, max_steps, batch_size, lr):
  steps = training.num_train_steps(int(np.max(ns)), epochs=epochs, batch_size=batch_size, min_steps=min_steps,
                                   max_steps=max_steps)
  v = training.fit_seeds(keys, module, xs, ys, ns, num_steps=steps, batch_size=batch_size, learning_rate=lr)
  return v, training.accuracy_seeds(module, v, x_test, y_test), steps


def full_data_accuracy(module, x, y, x_test, y_test, config, on_progress=None) -> tuple[np.ndarray, Any]:
  """Accuracy of ``num_seeds`` models trained on the whole pool (the BASELINE of Table 4.2).

  With ``config.full_eval_epochs`` (e.g. ``(1, 2, 5, 10, 15)``) each seed is trained
  ``full_eval_epochs[-1]`` epochs of ``full_batch_size`` (default ``batch_size``) and its test
  accuracy is recorded after each listed epoch (``on_progress(trace)``, a convergence
  diagnostic); the reference is the accuracy after the LAST epoch, fixed in advance (no choice
  of the epoch on test accuracy). Without it: one call of ``fit_seeds`` (``full_epochs``).
  """
  if config.get("full_eval_epochs", None):
    return _full_data_by_epoch(module, x, y, x_test, y_test, config, on_progress)
  s = config.num_seeds
  keys = jnp.stack([jax.random.fold_in(jax.random.key(config.seed + 777), i) for i in range(s)])
  xs = np.broadcast_to(x, (s,) + x.shape)
  ys = np.broadcast_to(y, (s,) + y.shape)
  v, acc, _ = _fit_and_score(module, keys, xs, ys, np.full(s, len(x)), x_test, y_test, epochs=config.full_epochs,
                             min_steps=config.min_steps, max_steps=config.full_max_steps,
                             batch_size=config.batch_size, lr=config.learning_rate)
  return acc, v


def _full_data_by_epoch(module, x, y, x_test, y_test, config, on_progress) -> tuple[np.ndarray, Any]:
  bs = int(config.get("full_batch_size", 0) or config.batch_size)
  per_epoch = int(np.ceil(len(x) / bs))
  epochs = [int(e) for e in config.full_eval_epochs]
  trace = {"epochs": epochs, "batch_size": bs, "steps_per_epoch": per_epoch,
           "accuracy_per_seed": [[None] * len(epochs) for _ in range(config.num_seeds)], "seconds_per_seed": []}
  accs, first = [], None
  for i in range(config.num_seeds):  # the same keys as the fit_seeds path
    t0 = time.perf_counter()
    key = jax.random.fold_in(jax.random.key(config.seed + 777), i)

    def record(step, variables, i=i):
      j = epochs.index(step // per_epoch)
      trace["accuracy_per_seed"][i][j] = float(training.accuracy_seeds(
          module, jax.tree.map(lambda a: a[None], variables), x_test, y_test)[0])
      if on_progress is not None:
        on_progress(trace)

    last = training.fit_with_milestones(key, module, x, y, milestones=[e * per_epoch for e in epochs], batch_size=bs,
                                        learning_rate=config.learning_rate, on_milestone=record)
    first = last if first is None else first  # seed 0's model, as fit_seeds' index 0 (features)
    trace["seconds_per_seed"].append(time.perf_counter() - t0)
    accs.append(trace["accuracy_per_seed"][i][-1])
  acc = np.asarray(accs)
  trace["accuracy_mean"] = [float(np.mean([r[j] for r in trace["accuracy_per_seed"]])) for j in range(len(epochs))]
  if on_progress is not None:
    on_progress(trace)
  return acc, jax.tree.map(lambda a: a[None], first)


def reuse_full_data(config, path: str) -> dict:
  """The full-data reference of an earlier run (``results.json`` at ``path``) with the same data and seeds."""
  with open(path) as f:
    prev = json.load(f)
  keys = ("dataset", "data_seed", "pool_size", "test_size", "model", "lenet_dense", "num_seeds", "seed", "full_epochs",
          "full_max_steps", "batch_size", "learning_rate", "min_steps", "full_eval_epochs", "full_batch_size")
  ours = json.loads(json.dumps({k: config.get(k) for k in keys}))  # tuples -> lists, as in the file
  diff = {k: (prev["config"].get(k), ours[k]) for k in keys if prev["config"].get(k) != ours[k]}
  if diff:
    raise ValueError(f"full_data_from={path!r} was run with other settings (theirs, ours): {diff}")
  out = {"full_data_accuracy": prev["full_data_accuracy"],
         "full_data_accuracy_per_seed": prev["full_data_accuracy_per_seed"], "full_data_from": path}
  for k in ("full_data_by_epoch", "full_data_seeds_done"):
    if k in prev:
      out[k] = prev[k]
  return out


# ----------------------------------------------------------------------------------------------
# 1. learning curves
# ----------------------------------------------------------------------------------------------
def auc(num_labels: np.ndarray, acc: np.ndarray) -> float:
  """Normalised area under the learning curve (trapezoid over the label axis / its range)."""
  n = np.asarray(num_labels, float)
  return float(np.trapezoid(acc, n) / (n[-1] - n[0]))


def labels_to_reach(num_labels, acc_mean, num_train_mean, target) -> dict:
  hit = np.flatnonzero(acc_mean >= target)
  if len(hit) == 0:
    return {"annotations": None, "labelled_data": None, "reached": False}
  i = int(hit[0])
  return {"annotations": int(num_labels[i]), "labelled_data": int(round(num_train_mean[i])), "reached": True}


def run_curves(config, workdir, x, y, xt, yt, module, on_strategy=None) -> dict:
  out = {}
  for name in config.strategies:
    settings = dict(config.strategy_settings.get(name, {})) if name in config.strategy_settings else {}
    cfg = LoopConfig(strategy=name, schedule=tuple(config.schedule), num_seeds=config.num_seeds, seed=config.seed,
                     strategy_settings=settings, candidates=config.candidates.get(name, None),
                     epochs=config.epochs, batch_size=config.batch_size, learning_rate=config.learning_rate,
                     min_steps=config.min_steps, max_steps=config.max_steps)
    t0 = time.perf_counter()
    loop_dir = pathlib.Path(workdir) / "loops" / name
    res = loop_lib.load_finished_loop(cfg, x.shape[1:], len(x), loop_dir)  # a finished loop: picked up
    if res is None:
      res = run_pool_loop(module, x, y, xt, yt, cfg, workdir=loop_dir, progress=config.progress)
    out[name] = {
        "num_labels": res.num_labels.tolist(),
        "accuracy_per_seed": res.accuracy.tolist(),
        "accuracy_mean": np.nanmean(res.accuracy, 0).tolist(),
        "accuracy_std": np.nanstd(res.accuracy, 0).tolist(),
        "num_train_mean": res.num_train.mean(0).tolist(),
        "query_seconds": res.query_seconds.tolist(),
        "wall_seconds": time.perf_counter() - t0,
        "_state": res.state,
    }
    if on_strategy is not None:
      on_strategy(out)
  return out


def plot_curves(curves, full_acc, target, path, title):
  fig, ax = plt.subplots(figsize=(7, 4.5))
  for name, c in curves.items():
    m = np.asarray([np.nan if a is None else a for a in c["accuracy_mean"]], float)
    s = np.asarray([np.nan if a is None else a for a in c["accuracy_std"]], float)
    n = np.asarray(c["num_labels"])
    ax.plot(n, m, marker="o", ms=3, label=name, lw=2.2 if name == "dfal" else 1.2)
    ax.fill_between(n, m - s, m + s, alpha=0.12)
  ax.axhline(full_acc, color="k", ls="--", lw=1, label=f"full data {full_acc:.3f}")
  ax.axhline(target, color="gray", ls=":", lw=1, label=f"full - gap {target:.3f}")
  ax.set_xscale("log")
  ax.set_xlabel("number of annotations")
  ax.set_ylabel("test accuracy")
  ax.set_title(title)
  ax.legend(fontsize=7, ncol=2)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def summarize_curves(results: dict, target_gap: float) -> dict:
  """Adds the AUCs, Table 4.2's form, the ranking at the budget and the issue's targets to ``results``.

  Works on the curves present (also a partial run's).
  """
  curves = results["curves"]
  target = results["full_data_accuracy"] - target_gap
  table, aucs = {}, {}
  for name, c in curves.items():
    n = np.asarray(c["num_labels"])
    acc = np.asarray([np.nan if a is None else a for a in c["accuracy_mean"]], float)
    done = int(np.sum(np.isfinite(acc)))
    if done < len(n):  # a stopped loop: only its finished rounds
      aucs[name] = None
      table[name] = {**labels_to_reach(n[:done], acc[:done], np.asarray(c["num_train_mean"])[:done], target),
                     "accuracy_at_budget": None, "accuracy_at_budget_std": None, "rounds_done": done}
      continue
    aucs[name] = auc(n, acc)
    table[name] = {**labels_to_reach(n, acc, np.asarray(c["num_train_mean"]), target),
                   "accuracy_at_budget": c["accuracy_mean"][-1], "accuracy_at_budget_std": c["accuracy_std"][-1]}
  ranking = sorted((k for k in table if table[k]["accuracy_at_budget"] is not None),
                   key=lambda k: -table[k]["accuracy_at_budget"])
  results["target_accuracy"] = target
  results["auc"] = aucs
  results["table_4_2"] = table
  results["ranking_at_budget"] = ranking
  for name in aucs:
    results[f"{name}_auc"] = aucs[name]
  if "random" in ranking:  # a reachable reference: random's own accuracy at the budget
    ref = table["random"]["accuracy_at_budget"]
    results["random_accuracy_at_budget"] = ref
    for name in ranking:
      c = curves[name]
      acc = np.asarray(c["accuracy_mean"], float)
      hit = labels_to_reach(np.asarray(c["num_labels"]), acc, np.asarray(c["num_train_mean"]), ref)
      table[name]["annotations_to_match_random_at_budget"] = hit["annotations"]
  if "dfal" in ranking and "random" in ranking:
    d, r = table["dfal"]["annotations"], table["random"]["annotations"]
    results["targets"] = {
        "dfal_labels": d, "random_labels": r,
        "dfal_at_least_30pct_fewer_labels_than_random": bool(d is not None and (r is None or d <= 0.7 * r)),
        "dfal_rank_at_budget": ranking.index("dfal") + 1,
        "dfal_top3_at_budget": ranking.index("dfal") < 3,
        # secondary, when neither reaches full-data - gap within the budget:
        "dfal_labels_to_match_random_at_budget": table["dfal"]["annotations_to_match_random_at_budget"],
        "random_budget": int(curves["random"]["num_labels"][-1]),
    }
    m = results["targets"]["dfal_labels_to_match_random_at_budget"]
    results["targets"]["dfal_matches_random_with_30pct_fewer_labels"] = bool(
        m is not None and m <= 0.7 * results["targets"]["random_budget"])
  return results


# ----------------------------------------------------------------------------------------------
# 2. transfer
# ----------------------------------------------------------------------------------------------
def _transfer_settings(config) -> dict:
  """What a stored transfer result must share with ``config`` to be reused."""
  return json.loads(json.dumps({"transfer": config.transfer.to_dict(), "seed": config.seed,
                                "num_seeds": config.num_seeds, "schedule": config.schedule,
                                "vgg_widths": config.vgg_widths, "vgg_dense": config.vgg_dense,
                                "batch_size": config.batch_size, "learning_rate": config.learning_rate,
                                "min_steps": config.min_steps}))


def run_transfer(config, curves, x, y, xt, yt, num_classes, workdir=None, on_strategy=None) -> dict:
  """Trains ``config.transfer.model`` on each strategy's final training set (Table 4.4's form).

  Each strategy's result is written to ``<workdir>/transfer/<name>.json`` as soon as it is done
  (a strategy's 3 narrow-VGG8 trainings take ~4-6 min on the 2-core CPU) and reused when the run is started
  again with the same transfer settings, so a stop loses at most the strategy in progress.
  ``on_strategy(out)`` is called after each strategy. A strategy whose training set holds more
  than its annotations (DFAL's adversarial copies, CEAL's pseudo-labels) is also trained on its
  annotated examples alone, reported as ``<name>_annotated_only``: it separates the choice of the
  queries from the extra training data.
  """
  module = make_model(config.transfer.model, num_classes, config)
  out = {}
  n_max = 2 * int(config.schedule[-1])
  folder = pathlib.Path(workdir) / "transfer" if workdir is not None else None
  settings = _transfer_settings(config)
  variants = []
  for strategy in config.transfer.strategies:
    if strategy in curves:
      variants.append((strategy, strategy, True))
      st = curves[strategy]["_state"]
      if np.any(st["n_adv"] > 0) or np.any(st["pseudo_y"] >= 0):
        variants.append((f"{strategy}_annotated_only", strategy, False))
  for name, strategy, extras in variants:
    path = folder / f"{name}.json" if folder is not None else None
    if path is not None and path.exists():
      stored = json.loads(path.read_text())
      if stored.get("settings") == settings:
        out[name] = stored["result"]
        continue
    xs, ys, ns = loop_lib.training_sets(curves[strategy]["_state"], y, x, n_max, extras=extras)
    keys = jnp.stack([jax.random.fold_in(jax.random.key(config.seed + 999), i) for i in range(len(ns))])
    t0 = time.perf_counter()
    _, acc, steps = _fit_and_score(module, keys, xs, ys, ns, xt, yt, epochs=config.transfer.epochs,
                                   min_steps=config.min_steps, max_steps=config.transfer.max_steps,
                                   batch_size=config.batch_size, lr=config.learning_rate)
    out[name] = {"accuracy_per_seed": acc.tolist(), "accuracy_mean": float(acc.mean()), "steps": steps,
                 "annotations": int(config.schedule[-1]), "training_set_size": ns.tolist(),
                 "wall_seconds": time.perf_counter() - t0}
    if path is not None:
      folder.mkdir(parents=True, exist_ok=True)
      tmp = path.with_suffix(".tmp")
      tmp.write_text(json.dumps({"settings": settings, "result": out[name]}, indent=1))
      tmp.replace(path)
    if on_strategy is not None:
      on_strategy(out)
  return out


# ----------------------------------------------------------------------------------------------
# 3. query-time benchmark
# ----------------------------------------------------------------------------------------------
def _timed_select(name, ctx, k, key):
  """``(wall seconds, process CPU seconds)`` of one :func:`select` call (results awaited)."""
  c0, t0 = os.times(), time.perf_counter()
  q = select(key, name, ctx, k)
  jax.block_until_ready(q.indices)
  c1 = os.times()
  return time.perf_counter() - t0, (c1.user + c1.system) - (c0.user + c0.system)


class _NoPersistentCompilationCache:
  """Switches JAX's on-disk compilation cache off inside (first calls then pay the real compilation)."""

  def __enter__(self):
    self.previous = jax.config.jax_enable_compilation_cache
    jax.config.update("jax_enable_compilation_cache", False)

  def __exit__(self, *exc):
    jax.config.update("jax_enable_compilation_cache", self.previous)


def _compile_seconds(fn, static_argnums, *args) -> float:
  """Seconds to lower and compile a fresh ``jax.jit`` of ``fn`` for ``args`` (no cache of any kind)."""
  def fresh(*a):  # a new function object: no in-memory cache hit, and none left for the timed calls
    return fn(*a)

  with _NoPersistentCompilationCache():
    t0 = time.perf_counter()
    jax.jit(fresh, static_argnums=static_argnums).lower(*args).compile()
    return time.perf_counter() - t0


def run_benchmark(config, x, y, module) -> dict:
  """Table 4.3's form: seconds to select ``num_queries`` with DFAL and CORE-SET, side by side.

  For each labelled-set size ``|L|`` (a LeNet5 trained ``train_steps`` steps on ``|L|`` random
  pool images) and each candidate-set size in ``candidate_sizes`` (prefixes of one random set of
  ``num_unlabelled``; default: only ``num_unlabelled``), each strategy gets one first call (its
  compilation, if any, included) and ``repeats`` timed calls (wall and process-CPU seconds; the
  median is the steady-state time). The on-disk compilation cache is off throughout, so the first
  calls include the real compilation; the compilation of DFAL's DeepFool step and of CORE-SET's
  greedy k-center is also timed alone, ahead of time. DFAL's attack statistics (DeepFool steps per
  candidate) and the number of programs compiled for it are recorded too.
  """
  with _NoPersistentCompilationCache():
    return _run_benchmark(config, x, y, module)


def _run_benchmark(config, x, y, module) -> dict:
  import inspect  # noqa: PLC0415

  from wassml.active_learning import coreset as coreset_lib  # noqa: PLC0415
  from wassml.active_learning import deepfool as deepfool_lib  # noqa: PLC0415
  from wassml.active_learning import strategies as strategies_lib  # noqa: PLC0415

  b = config.benchmark
  sizes = sorted(int(m) for m in (b.get("candidate_sizes", None) or (b.num_unlabelled,)))
  if sizes[-1] > b.num_unlabelled:
    raise ValueError(f"benchmark.candidate_sizes {sizes} exceed benchmark.num_unlabelled={b.num_unlabelled}")
  dfal_settings = dict(config.strategy_settings.get("dfal", {}))
  rng = np.random.default_rng(config.seed + 5)
  rows, attacks, compile_seconds = [], [], {}
  for n_l in b.labelled_sizes:
    perm = rng.permutation(len(x))
    lab, cand_all = perm[:n_l], perm[n_l : n_l + b.num_unlabelled]
    keys = jax.random.split(jax.random.key(n_l), 1)
    v = training.fit_seeds(keys, module, x[None, lab], y[None, lab], np.array([n_l]), num_steps=b.train_steps,
                           batch_size=config.batch_size)
    clf = Classifier(module, training.unstack(v, 0))
    if not compile_seconds:  # ahead of time, before any DFAL / CORE-SET call of this process
      cs = int(dfal_settings.get("chunk_size",
                                 inspect.signature(strategies_lib.dfal_strategy).parameters["chunk_size"].default))
      xc = jnp.asarray(x[np.resize(cand_all, cs)])  # one padded chunk
      zeros_i = jnp.zeros(cs, jnp.int32)
      compile_seconds["dfal_deepfool_step"] = _compile_seconds(  # the chunk program of deepfool_batch
          deepfool_lib._advance_chunk.__wrapped__, (0, 8, 9, 10), clf.example_logits, clf.variables, xc,  # noqa: SLF001
          jnp.zeros_like(xc), clf.logits(xc), zeros_i, zeros_i, jnp.zeros(cs, bool),
          int(dfal_settings.get("max_iters", 10)), float(dfal_settings.get("overshoot", 0.0)), 1e-4)
      f_l, f_c = clf.features(x[lab]), clf.features(x[cand_all])
      compile_seconds["coreset_k_center_greedy"] = _compile_seconds(
          coreset_lib.k_center_greedy.__wrapped__, (2,), f_l, f_c, int(b.num_queries))
    for m in sizes:
      ctx = QueryContext(x=x, labelled=lab, y_labelled=y[lab], candidates=cand_all[:m], classifier=clf)
      row = {"labelled": int(n_l), "unlabelled": int(m), "num_queries": int(b.num_queries)}
      for name in ("dfal", "coreset"):
        before = deepfool_lib._advance_chunk._cache_size()  # noqa: SLF001
        first, first_cpu = _timed_select(name, ctx, b.num_queries, jax.random.key(0))
        times = [_timed_select(name, ctx, b.num_queries, jax.random.key(r + 1)) for r in range(b.repeats)]
        row[f"{name}_first_call_seconds"] = first
        row[f"{name}_first_call_cpu_seconds"] = first_cpu
        row[f"{name}_seconds_all"] = [t for t, _ in times]
        row[f"{name}_cpu_seconds_all"] = [c for _, c in times]
        row[f"{name}_seconds_median"] = float(np.median(row[f"{name}_seconds_all"]))
        row[f"{name}_cpu_seconds_median"] = float(np.median(row[f"{name}_cpu_seconds_all"]))
        row[f"{name}_ms_per_candidate"] = 1e3 * row[f"{name}_seconds_median"] / m
        if name == "dfal":
          row["dfal_programs_compiled_by_first_call"] = deepfool_lib._advance_chunk._cache_size() - before  # noqa: SLF001
      row["coreset_over_dfal"] = row["coreset_seconds_median"] / row["dfal_seconds_median"]
      rows.append(row)
    res = deepfool_lib.deepfool_batch(clf.example_logits, clf.variables, x[cand_all],
                                      max_iters=dfal_settings.get("max_iters", 10),
                                      overshoot=dfal_settings.get("overshoot", 0.0))
    it = np.asarray(res.num_iters)
    attacks.append({"labelled": int(n_l), "unlabelled": int(len(cand_all)),
                    "num_iters_histogram": np.bincount(it, minlength=dfal_settings.get("max_iters", 10) + 1).tolist(),
                    "num_iters_mean": float(it.mean()), "flipped_fraction": float(np.mean(np.asarray(res.flipped)))})
  first = rows[0]
  return {"rows": rows, "dfal_attacks": attacks,
          "dfal_programs_compiled": int(deepfool_lib._advance_chunk._cache_size()),  # noqa: SLF001
          "dfal_compile_seconds_estimate": first["dfal_first_call_seconds"] - first["dfal_seconds_median"],
          "compile_seconds_ahead_of_time": compile_seconds}


# ----------------------------------------------------------------------------------------------
# 4. Wasserstein prototypes
# ----------------------------------------------------------------------------------------------
def toy(name: str, n: int, seed: int) -> np.ndarray:
  rng = np.random.default_rng(seed)
  if name == "circle":
    t = rng.uniform(0, 2 * np.pi, n)
    r = 1.0 + 0.05 * rng.normal(size=n)
    return np.stack([r * np.cos(t), r * np.sin(t)], 1).astype(np.float32)
  if name == "three_gaussians_ratio":
    ratios = np.array([0.6, 0.3, 0.1])
    means = np.array([[0.0, 0.0], [4.0, 0.0], [2.0, 3.5]])
    comp = rng.choice(3, n, p=ratios)
    return (means[comp] + 0.6 * rng.normal(size=(n, 2))).astype(np.float32)
  raise ValueError(f"unknown toy {name!r}")


def prototype_curves(points: np.ndarray, k_max: int, config, seed: int) -> dict:
  p = config.prototypes
  solvers = {
      "greedy_exact": wot.emd,
      "greedy_ipot": make_solver("ipot", num_iters=p.num_iters, ipot_beta=p.ipot_beta),
      "greedy_sinkhorn": make_solver("sinkhorn", epsilon=p.sinkhorn_epsilon, num_iters=p.num_iters),
  }
  ks = list(range(1, k_max + 1))
  out, orders = {}, {}
  for name, solver in solvers.items():
    t0 = time.perf_counter()
    res = greedy_wasserstein_prototypes(points, points, k_max, solver=solver)
    orders[name] = res.indices
    out[name] = {"seconds": time.perf_counter() - t0}
  orders["mmd"] = greedy_mmd_prototypes(points, points, k_max).indices
  out["mmd"] = {}
  for name, order in orders.items():
    out[name]["w"] = [wasserstein_to_target(points[order[:k]], points) for k in ks]
    out[name]["indices"] = order.tolist()
  rand = []
  for r in range(p.random_draws):
    order = random_prototypes(jax.random.key(seed * 100 + r), len(points), k_max).indices
    rand.append([wasserstein_to_target(points[order[:k]], points) for k in ks])
  rand = np.asarray(rand)
  out["random"] = {"w": rand.mean(0).tolist(), "w_std": rand.std(0).tolist()}
  out["k"] = ks
  rw = np.asarray(out["random"]["w"])
  out["exact_below_random_every_k"] = bool(np.all(np.asarray(out["greedy_exact"]["w"]) < rw))
  out["ipot_below_random_every_k"] = bool(np.all(np.asarray(out["greedy_ipot"]["w"]) < rw))
  return out


def plot_prototypes(res, points, path, title, show_points: bool):
  ncol = 2 if show_points else 1
  fig, axes = plt.subplots(1, ncol, figsize=(5.5 * ncol, 4.2))
  axes = np.atleast_1d(axes)
  ax = axes[0]
  for name in ("greedy_exact", "greedy_ipot", "greedy_sinkhorn", "mmd", "random"):
    ax.plot(res["k"], res[name]["w"], marker="o", ms=3, label=name)
  ax.set_xlabel("K (number of prototypes)")
  ax.set_ylabel("W_2(S_K, P) (exact)")
  ax.set_yscale("log")
  ax.set_title(title)
  ax.legend(fontsize=8)
  if show_points:
    ax = axes[1]
    ax.scatter(points[:, 0], points[:, 1], s=6, c="lightgray")
    for name, m in (("greedy_exact", "o"), ("greedy_ipot", "x"), ("greedy_sinkhorn", "+"), ("mmd", "^")):
      idx = res[name]["indices"]
      ax.scatter(points[idx, 0], points[idx, 1], s=30, marker=m, label=name)
    ax.set_aspect("equal")
    ax.legend(fontsize=7)
    ax.set_title(f"K = {len(res['k'])} prototypes")
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def run_prototypes(config, workdir, features: np.ndarray | None) -> dict:
  p = config.prototypes
  out = {}
  for name in p.toys:
    pts = toy(name, p.num_points, config.seed)
    out[name] = prototype_curves(pts, p.k_max, config, config.seed)
    plot_prototypes(out[name], pts, pathlib.Path(workdir) / f"prototypes_{name}.png", name, True)
  if features is not None and p.feature_points:
    rng = np.random.default_rng(config.seed + 3)
    f = features[rng.permutation(len(features))[: p.feature_points]]
    key = f"{config.dataset}_features"
    out[key] = prototype_curves(f, p.k_max, config, config.seed + 1)
    plot_prototypes(out[key], f, pathlib.Path(workdir) / f"prototypes_{key}.png", key, False)
  return out


# ----------------------------------------------------------------------------------------------
def _machine() -> dict:
  return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
          "cpu_count": os.cpu_count(), "jax_backend": jax.default_backend(), "jax": jax.__version__}


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Runs the enabled parts, writes ``<workdir>/results.json`` and PNG plots, returns the results."""
  t_start = time.perf_counter()
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  x, y, xt, yt, num_classes = load_data(config)
  module = make_model(config.model, num_classes, config)
  results: dict[str, Any] = {"config": config.to_dict(), "machine": _machine(),
                             "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
                             "pool_size": int(len(x)), "test_size": int(len(xt))}
  def dump():
    results["wall_time_s"] = time.perf_counter() - t_start
    with open(workdir / "results.json", "w") as f:
      json.dump(results, f, indent=1, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))

  features = None
  curves = None
  if config.parts.curves:  # first: the reference below is only needed to summarise them

    def partial(curves):  # a partial results.json after each strategy (long runs)
      results["curves"] = {k: {kk: vv for kk, vv in v.items() if kk != "_state"} for k, v in curves.items()}
      results["partial"] = True
      dump()

    curves = run_curves(config, workdir, x, y, xt, yt, module, on_strategy=partial)
    results.pop("partial", None)
  if config.get("full_data_from", "") and not config.parts.prototypes:
    results.update(reuse_full_data(config, config.full_data_from))
  elif (config.parts.curves and config.get("full_data", True)) or config.parts.prototypes:
    def progress(trace):  # the reference can take an hour: each epoch's accuracies are kept
      results["full_data_by_epoch"] = trace
      done = [row[-1] for row in trace["accuracy_per_seed"] if row[-1] is not None]
      if done:  # a run stopped during a later seed keeps the reference of the seeds that finished
        results["full_data_accuracy"] = float(np.mean(done))
        results["full_data_accuracy_per_seed"] = done
        results["full_data_seeds_done"] = len(done)
      dump()

    full_acc, full_v = full_data_accuracy(module, x, y, xt, yt, config, on_progress=progress)
    results["full_data_accuracy"] = float(full_acc.mean())
    results["full_data_accuracy_per_seed"] = full_acc.tolist()
    features = np.asarray(Classifier(module, training.unstack(full_v, 0)).features(xt))
    dump()  # the reference costs minutes: never lost to a later failure
  if curves and "full_data_accuracy" in results:  # else: merged into another run's summary
    summarize_curves(results, config.target_gap)
    plot_curves(results["curves"], results["full_data_accuracy"], results["target_accuracy"],
                workdir / "learning_curves.png", f"{config.dataset}, {config.model}, {config.num_seeds} seeds")
  dump()
  if curves is not None:
    if config.parts.transfer:
      def transfer_done(out):  # each finished strategy reaches results.json at once
        results["transfer"] = dict(out)
        dump()

      results["transfer"] = run_transfer(config, curves, x, y, xt, yt, num_classes, workdir=workdir,
                                         on_strategy=transfer_done)
      dump()
  if config.parts.benchmark:
    results["benchmark"] = run_benchmark(config, x, y, module)
    dump()
  if config.parts.prototypes:
    results["prototypes"] = run_prototypes(config, workdir, features)
  dump()
  return results
