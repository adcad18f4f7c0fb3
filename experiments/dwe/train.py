"""Deep Wasserstein Embedding experiment (Ducoffe 2018 ch. 8; issue 8).

``train_and_evaluate(config, workdir)``:

1. loads a grayscale image set (``wassml.data.load``), splits train images / held-out images;
2. draws random pairs of train images (training + validation) and of held-out images (test) and
   computes their exact ``W_2^2`` on the pixel grid (:func:`wassml.embedding.generate_pairs`,
   checkpointed under ``<workdir>/pairs``), checks a sample against POT's ``ot.emd2``;
3. trains the DWE (encoder, decoder, KL + sparsity) with Adam and early stopping on the
   validation loss (``wassml.train.train_loop``);
4. scores the test pairs (MSE, relative MSE, correlation), measures the throughput table, makes the
   figures (scatter, barycenters, interpolation strips, PGA modes, nearest neighbours) and, when
   configured, the cross-dataset table (one model per class group, tested on every group).

Everything lands in ``<workdir>/results.json`` and PNGs.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pathlib
import platform
import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from wassml import data as wdata
from wassml import train as wtrain
from wassml.embedding import dwe as dwe_lib
from wassml.embedding import operations as ops
from wassml.embedding import pairs as pairs_lib

# ----------------------------------------------------------------------------------------------
# Exact targets.


def pot_targets(x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
  """Reference ``W_2^2`` by POT's network simplex (``ot.emd2``), restricted to the supports.

  Dropping empty pixels leaves the LP unchanged (they carry no mass) and makes it smaller.
  POT is a test/benchmark reference: it is imported here, in experiments, never in ``wassml``.
  """
  import ot as pot  # pylint: disable=import-outside-toplevel
  h, w = pairs_lib.image_shape(x1)
  a = np.asarray(x1, np.float64).reshape(len(x1), -1)
  b = np.asarray(x2, np.float64).reshape(len(x2), -1)
  cost = np.asarray(pairs_lib.grid_cost(h, w), np.float64)
  out = np.empty((len(a),), np.float64)
  for i, (u, v) in enumerate(zip(a, b)):
    su, sv = u > 0, v > 0
    out[i] = pot.emd2(u[su] / u[su].sum(), v[sv] / v[sv].sum(), cost[np.ix_(su, sv)])
  return out


def _targets_fn(name: str):
  if name == "wassml":
    return None  # pairs_lib.pair_targets with wassml.ot.emd
  if name == "pot":
    return pot_targets
  raise ValueError(f"pairs.solver must be 'wassml' (wassml.ot.emd) or 'pot', got {name!r}.")


# ----------------------------------------------------------------------------------------------
# Data.


@dataclasses.dataclass
class Split:
  x: np.ndarray  # [N, H, W, 1] histograms
  y: np.ndarray  # [N] labels


def _load_split(config: ml_collections.ConfigDict, split: str, max_examples: int,
                classes: list[int] | None) -> Split:
  ds = wdata.load(config.dataset, split)
  x, y = np.asarray(ds.x), np.asarray(ds.y)
  if classes:
    keep = np.isin(y, np.asarray(classes))
    x, y = x[keep], y[keep]
  x, y = x[:max_examples], y[:max_examples]
  return Split(np.asarray(dwe_lib.as_model_input(x)), y)


def _make_pairset(key, images: np.ndarray, num_pairs: int, cache_dir: pathlib.Path,
                  config: ml_collections.ConfigDict, desc: str) -> pairs_lib.PairSet:
  t0 = time.perf_counter()
  ps = pairs_lib.generate_pairs(key, images, num_pairs, cache_dir=cache_dir,
                                chunk_size=config.pairs.chunk_size,
                                batch_size=config.pairs.batch_size,
                                targets_fn=_targets_fn(config.pairs.solver),
                                progress=config.progress)
  print(f"[dwe] {desc}: {num_pairs} pairs in {time.perf_counter() - t0:.1f}s "
        f"(solver {config.pairs.solver})")
  return ps


def parity_check(key, images: np.ndarray, num: int) -> dict[str, float]:
  """``wassml.ot.emd`` (through :func:`pair_targets`) against POT ``ot.emd2`` on random pairs."""
  i1, i2 = pairs_lib.sample_pair_indices(key, len(images), num)
  t0 = time.perf_counter()
  ours = pairs_lib.pair_targets(images[i1], images[i2], batch_size=num)
  t_ours = time.perf_counter() - t0
  t0 = time.perf_counter()
  ref = pot_targets(images[i1], images[i2])
  t_ref = time.perf_counter() - t0
  err = np.abs(ours - ref)
  return {"num_pairs": int(num), "max_abs_diff": float(err.max()),
          "max_rel_diff": float((err / np.maximum(ref, 1e-12)).max()),
          "wassml_seconds": t_ours, "pot_seconds": t_ref}


# ----------------------------------------------------------------------------------------------
# Training.


@dataclasses.dataclass
class _DeadlineStopping(wtrain.EarlyStopping):
  """``wassml.train.EarlyStopping`` that also stops once a wall-clock deadline has passed.

  The deadline (a ``time.perf_counter`` value, checked at each update) is not a dataclass
  field: ``train_loop`` checkpoints the tracker's fields and restores them into this tracker, so
  a resumed run continues with the restored patience counters under its own process's time cap
  (the deadline of another process means nothing).
  """

  deadline = math.inf  # set per instance; not a field

  def update(self, value: float) -> "_DeadlineStopping":
    new = super().update(value)
    new.deadline = self.deadline
    if time.perf_counter() > self.deadline:
      new.should_stop = True
    return new


def _batch(x: np.ndarray, ps: pairs_lib.PairSet, idx: np.ndarray) -> dict[str, np.ndarray]:
  return {"x1": x[ps.i1[idx]], "x2": x[ps.i2[idx]], "w2": ps.w2[idx]}


def _epoch_history(history: list[dict], steps_per_epoch: int) -> list[dict]:
  """``train_loop``'s evaluations (``{'step', **metrics}``) as ``{'epoch', 'valid_<metric>'}``."""
  return [{"epoch": int(h["step"]) // steps_per_epoch,
           **{f"valid_{k}": v for k, v in h.items() if k != "step"}} for h in history]


def _replay_stopping(history: list[dict], patience: int) -> wtrain.EarlyStopping:
  """The patience tracker after the validation losses of ``history`` (one update each)."""
  es = wtrain.EarlyStopping(patience=patience)
  for h in history:
    es = es.update(h["loss"])
  return es


def train_model(config: ml_collections.ConfigDict, key: jax.Array, x: np.ndarray,
                train_pairs: pairs_lib.PairSet, valid_pairs: pairs_lib.PairSet,
                workdir: pathlib.Path, max_seconds: float | None = None
                ) -> tuple[dwe_lib.DWE, Any, dict]:
  """Trains a DWE on ``train_pairs`` of images ``x``; early stopping on ``valid_pairs``' loss.

  One epoch is a permutation of the training pairs (``wassml.train.EpochBatches`` over pair
  indices; the remainder is dropped). The run is checkpointed after every epoch under
  ``<workdir>/checkpoints/dwe`` (train state, evaluation history, patience counters) and the
  parameters of each new best validation loss under ``<workdir>/checkpoints/dwe_best``, so a
  killed run started again resumes and ends with the params and history of an uninterrupted
  one. Training also stops after ``max_seconds`` (default ``config.train.max_seconds``) of wall
  time in this process, checked at the end of each epoch.

  Returns:
    ``(model, best_params, info)``.
  """
  tc = config.train
  model = dwe_lib.DWE(image_shape=tuple(x.shape[1:3]), embedding_dim=config.model.embedding_dim)
  weights = dwe_lib.DWELossWeights(reconstruction=config.model.reconstruction_weight,
                                   sparsity=config.model.sparsity_weight)
  k_init, k_data, k_steps = jax.random.split(key, 3)
  state = wtrain.create_train_state(k_init, model, x[:2], optax.adam(tc.learning_rate), x2=x[:2])
  step = dwe_lib.make_train_step(model, weights)
  eval_step = dwe_lib.make_eval_step(model, weights)
  epochs = wtrain.EpochBatches({"pair": np.arange(len(train_pairs))},
                               min(tc.batch_size, len(train_pairs)), k_data)
  steps_per_epoch = epochs.steps_per_epoch
  num_steps = steps_per_epoch * tc.max_epochs

  def batch_fn(i):
    return _batch(x, train_pairs, epochs.indices(i))

  ckpt = wtrain.Checkpointer(workdir, subdir="checkpoints/dwe", max_to_keep=2)
  # Two kept: a run killed between saving a new best and the epoch's checkpoint still has the
  # previous best, which the restored history names.
  best_ckpt = wtrain.Checkpointer(workdir, subdir="checkpoints/dwe_best", max_to_keep=2)
  restored = ckpt.restore_metadata().get("history") or []
  best = {"loss": min((h["loss"] for h in restored), default=math.inf)}

  def eval_fn(st):
    tot: dict[str, float] = {}
    n = len(valid_pairs)
    for s in range(0, n, 1000):
      idx = np.arange(s, min(s + 1000, n))
      _, m = eval_step(st.params, _batch(x, valid_pairs, idx))
      for k, v in m.items():
        tot[k] = tot.get(k, 0.0) + float(v) * len(idx)
    ev = {k: v / n for k, v in tot.items()}
    if ev["loss"] < best["loss"]:  # the same comparison as EarlyStopping's (min_delta 0)
      best["loss"] = ev["loss"]
      done = int(st.step)
      if done not in best_ckpt.all_steps():  # saved before a kill, redone identically
        best_ckpt.save(done, st.params)
    return ev

  writer = wtrain.MetricsWriter(workdir / "metrics.jsonl")
  stopper = _DeadlineStopping(patience=tc.patience)
  stopper.deadline = time.perf_counter() + (max_seconds or tc.max_seconds)
  t0 = time.perf_counter()
  try:
    state, info = wtrain.train_loop(
        state, step, batch_fn, rng=k_steps, num_steps=num_steps, checkpointer=ckpt,
        checkpoint_every=steps_per_epoch, writer=writer, log_every=steps_per_epoch,
        eval_fn=eval_fn, eval_every=steps_per_epoch, early_stopping=stopper, monitor="loss",
        desc=f"DWE {workdir.name}")
    train_seconds = time.perf_counter() - t0
    history = info["history"]
    replay = _replay_stopping(history, tc.patience)
    if history:
      best_step = int(history[replay.best_step]["step"])
      best_params = best_ckpt.restore(state.params, best_step)
    else:
      best_step, best_params = 0, state.params
  finally:
    ckpt.close()
    best_ckpt.close()
  info = {"steps": int(info["last_step"]), "epochs": int(info["last_step"]) // steps_per_epoch,
          "stopped_early": bool(info["stopped_early"]),
          "stopped_by": ("patience" if replay.should_stop else "time cap")
                        if info["stopped_early"] else "max_epochs",
          "best_epoch": best_step // steps_per_epoch,
          "best_valid_loss": float(replay.best) if history else math.inf,
          "train_seconds": train_seconds, "resumed_from_step": int(info["start_step"]),
          "history": _epoch_history(history, steps_per_epoch)}
  return model, best_params, info


def predict_pairs(emb: dwe_lib.Embedder, x: np.ndarray, ps: pairs_lib.PairSet) -> np.ndarray:
  """DWE estimates for a pair set: every image embedded once, then paired distances."""
  z = _encode_all(emb, x)
  return np.asarray(dwe_lib.squared_distance(z[ps.i1], z[ps.i2]))


def _encode_all(emb: dwe_lib.Embedder, x: np.ndarray, batch: int = 1000) -> jax.Array:
  return jnp.concatenate([emb.encode(x[s:s + batch]) for s in range(0, len(x), batch)])


# ----------------------------------------------------------------------------------------------
# Throughput.


def _time(fn, repeats: int = 3, warmup=None) -> float:
  """Best wall time of ``repeats`` calls after one warm-up call (``warmup`` or ``fn``)."""
  (warmup or fn)()  # compile / warm caches
  best = math.inf
  for _ in range(repeats):
    t0 = time.perf_counter()
    fn()
    best = min(best, time.perf_counter() - t0)
  return best


def throughput(config: ml_collections.ConfigDict, emb: dwe_lib.Embedder, x: np.ndarray,
               key: jax.Array) -> list[dict[str, Any]]:
  """``W_2^2`` computations per second, side by side in this process.

  Rows: exact LP (POT ``ot.emd2``, one pair at a time), ``wassml.ot.emd`` (vmapped batches of
  the general-weights path), DWE independent (embed both images of each pair, then distance) and
  DWE pairwise (embed two sets once, then all ``n x n`` distances).
  """
  tc = config.throughput
  n = len(x)
  i1, i2 = pairs_lib.sample_pair_indices(key, n, max(tc.lp_pairs, tc.wassml_pairs,
                                                     tc.independent_pairs))
  rows = []
  lp = i1[:tc.lp_pairs], i2[:tc.lp_pairs]
  t = _time(lambda: pot_targets(x[lp[0]], x[lp[1]]), repeats=1,
            warmup=lambda: pot_targets(x[lp[0][:1]], x[lp[1][:1]]))
  rows.append({"method": "exact LP (POT ot.emd2, network simplex)", "pairs": tc.lp_pairs,
               "seconds": t, "w2_per_second": tc.lp_pairs / t})
  wm = i1[:tc.wassml_pairs], i2[:tc.wassml_pairs]
  bs = min(tc.wassml_pairs, config.pairs.batch_size)
  t = _time(lambda: pairs_lib.pair_targets(x[wm[0]], x[wm[1]], batch_size=bs), repeats=1,
            warmup=lambda: pairs_lib.pair_targets(x[wm[0][:1]], x[wm[1][:1]], batch_size=bs))
  rows.append({"method": "wassml.ot.emd (general weights, vmapped)", "pairs": tc.wassml_pairs,
               "seconds": t, "w2_per_second": tc.wassml_pairs / t})
  ind = jnp.asarray(x[i1[:tc.independent_pairs]]), jnp.asarray(x[i2[:tc.independent_pairs]])

  def independent():
    return jax.block_until_ready(ops.independent_w2(emb.encode, ind[0], ind[1]))

  t = _time(independent)
  rows.append({"method": "DWE independent", "pairs": tc.independent_pairs, "seconds": t,
               "w2_per_second": tc.independent_pairs / t})
  m = min(tc.pairwise_set_size, n // 2)
  xa, xb = jnp.asarray(x[:m]), jnp.asarray(x[m:2 * m])

  def pairwise():
    return jax.block_until_ready(ops.pairwise_w2(emb.encode, xa, xb))

  t = _time(pairwise)
  rows.append({"method": "DWE pairwise", "pairs": m * m, "seconds": t,
               "w2_per_second": m * m / t})
  base = rows[0]["w2_per_second"]
  for r in rows:
    r["speedup_vs_lp"] = r["w2_per_second"] / base
    r["device"] = jax.devices()[0].platform
  return rows


# ----------------------------------------------------------------------------------------------
# Embedding operations, nearest neighbours and figures.


def knn_agreement(emb: dwe_lib.Embedder, queries: np.ndarray, database: np.ndarray, k: int,
                  targets_fn) -> dict[str, float]:
  """Recall@k of DWE nearest neighbours against exact-``W_2`` neighbours on a small database."""
  nq, nd = len(queries), len(database)
  exact = np.asarray(targets_fn(np.repeat(queries, nd, 0), np.tile(database, (nq, 1, 1, 1))),
                     np.float64).reshape(nq, nd)
  _, idx = ops.nearest_neighbours(emb.encode(queries), emb.encode(database), k=k)
  true = np.argsort(exact, axis=1)[:, :k]
  recall = np.mean([len(set(np.asarray(idx[q]).tolist()) & set(true[q].tolist())) / k
                    for q in range(nq)])
  top1 = float(np.mean(np.asarray(idx[:, 0]) == true[:, 0]))
  return {"queries": nq, "database": nd, "k": k, f"recall_at_{k}": float(recall),
          "top1_match": top1}


def _plt():
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  return plt


def plot_scatter(pred: np.ndarray, true: np.ndarray, scores: dict, path: pathlib.Path,
                 title: str) -> None:
  plt = _plt()
  fig, axes = plt.subplots(1, 2, figsize=(10, 4))
  hi = float(max(true.max(), pred.max()))
  axes[0].plot(true, pred, "+", ms=3, alpha=0.5, label="model prediction")
  axes[0].plot([0, hi], [0, hi], "k", label="exact")
  axes[0].set_xlabel("true $W_2^2$")
  axes[0].set_ylabel("predicted $W_2^2$")
  axes[0].legend()
  bins = np.linspace(true.min(), true.max(), 31)
  mid, mean, p10, p90 = [], [], [], []
  for lo, up in zip(bins[:-1], bins[1:]):
    sel = (true >= lo) & (true < up)
    if sel.sum() >= 3:
      mid.append(0.5 * (lo + up))
      mean.append(pred[sel].mean())
      p10.append(np.percentile(pred[sel], 10))
      p90.append(np.percentile(pred[sel], 90))
  axes[1].plot([0, hi], [0, hi], "k", label="exact")
  axes[1].plot(mid, mean, "r+-", label="mean pred")
  axes[1].plot(mid, p10, "g+-", label="10th percentile")
  axes[1].plot(mid, p90, "b+-", label="90th percentile")
  axes[1].legend()
  axes[1].grid(True)
  axes[1].set_xlabel("true $W_2^2$")
  axes[1].set_title(f"MSE {scores['mse']:.3g}  RelMSE {scores['relative_mse']:.3g}  "
                    f"Corr {scores['correlation']:.4f}")
  fig.suptitle(title)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def _show(ax, img, title=None):
  ax.imshow(np.asarray(img).reshape(np.asarray(img).shape[:2]), cmap="Blues",
            interpolation="nearest")
  ax.set_xticks(())
  ax.set_yticks(())
  if title:
    ax.set_title(title, fontsize=8)


def plot_barycenters(emb: dwe_lib.Embedder, test: Split, per_class: int, path: pathlib.Path,
                     class_names: list[str]) -> dict[str, float]:
  """DWE barycenter (top) and Euclidean mean (bottom) of each class; returns timings."""
  plt = _plt()
  classes = sorted(set(test.y.tolist()))
  fig, axes = plt.subplots(2, len(classes), figsize=(1.2 * len(classes), 2.8), squeeze=False)
  times = []
  for c_i, c in enumerate(classes):
    xc = jnp.asarray(test.x[test.y == c][:per_class])
    bary = ops.barycenter(emb.encode, emb.decode, xc)
    jax.block_until_ready(bary)
    t0 = time.perf_counter()
    jax.block_until_ready(ops.barycenter(emb.encode, emb.decode, xc))
    times.append(time.perf_counter() - t0)
    _show(axes[0, c_i], bary, class_names[c] if c < len(class_names) else str(c))
    _show(axes[1, c_i], np.asarray(xc).mean(0))
  axes[0, 0].set_ylabel("DWE", fontsize=8)
  axes[1, 0].set_ylabel("L2 mean", fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return {"per_class": int(per_class), "ms_per_barycenter": 1e3 * float(np.median(times))}


def plot_interpolation(config: ml_collections.ConfigDict, emb: dwe_lib.Embedder, x0: np.ndarray,
                       x1: np.ndarray, path: pathlib.Path) -> dict[str, float]:
  """Interpolation strips: L2, exact LP (displacement), entropic barycenter, DWE, with timings."""
  from wassml.ot import emd  # pylint: disable=import-outside-toplevel
  plt = _plt()
  h, w = x0.shape[:2]
  ts = np.linspace(0.0, 1.0, config.interpolation.num_steps)
  cost = pairs_lib.grid_cost(h, w)
  a, b = jnp.asarray(x0.reshape(-1)), jnp.asarray(x1.reshape(-1))
  rows, times = {}, {}
  rows["L2"] = [(1 - t) * x0 + t * x1 for t in ts]

  t0 = time.perf_counter()
  plan = emd(cost, a, b).plan  # wassml.ot.emd, general weights (host LP)
  rows["exact LP"] = [np.asarray(ops.displacement_interpolation(plan, t, (h, w))) for t in ts]
  times["exact LP"] = time.perf_counter() - t0

  eps = config.interpolation.entropic_epsilon
  hists = jnp.stack([a, b])
  ops.entropic_barycenter(hists, jnp.array([0.5, 0.5]), cost, epsilon=eps,
                          num_iters=config.interpolation.entropic_iters).block_until_ready()
  t0 = time.perf_counter()
  rows["entropic"] = [np.asarray(ops.entropic_barycenter(
      hists, jnp.array([1 - t, t]), cost, epsilon=eps,
      num_iters=config.interpolation.entropic_iters)).reshape(h, w, 1) for t in ts]
  times["entropic"] = time.perf_counter() - t0

  ops.interpolate(emb.encode, emb.decode, x0, x1, ts).block_until_ready()
  t0 = time.perf_counter()
  strip = ops.interpolate(emb.encode, emb.decode, x0, x1, ts).block_until_ready()
  times["DWE"] = time.perf_counter() - t0
  rows["DWE"] = list(np.asarray(strip))

  fig, axes = plt.subplots(len(rows), len(ts), figsize=(1.1 * len(ts), 1.25 * len(rows)),
                           squeeze=False)
  for r, (name, imgs) in enumerate(rows.items()):
    for c, img in enumerate(imgs):
      _show(axes[r, c], img)
    label = name if name not in times else f"{name}\n{times[name] * 1e3:.1f} ms"
    axes[r, 0].set_ylabel(label, fontsize=7)
  fig.suptitle(f"interpolation ({len(ts)} steps); entropic eps={eps}", fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return {f"{k.replace(' ', '_')}_ms_per_strip": 1e3 * v for k, v in times.items()}


def plot_pga(emb: dwe_lib.Embedder, xc: np.ndarray, path: pathlib.Path, title: str,
             num_components: int = 3) -> dict[str, Any]:
  """First principal geodesic modes of one class: rows = modes, columns = -1.5..1.5 std."""
  plt = _plt()
  res = ops.pga(_encode_all(emb, xc), num_components=num_components)
  steps = np.linspace(-1.5, 1.5, 5)
  modes = np.asarray(ops.pga_modes(emb.decode, res, steps))
  fig, axes = plt.subplots(num_components, len(steps),
                           figsize=(1.2 * len(steps), 1.3 * num_components), squeeze=False)
  for k in range(num_components):
    for s in range(len(steps)):
      _show(axes[k, s], modes[k, s], f"{steps[s]:+.2g} sd" if k == 0 else None)
    axes[k, 0].set_ylabel(f"mode {k + 1}", fontsize=8)
  fig.suptitle(title, fontsize=9)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return {"stddev": np.asarray(res.stddev).tolist()}


def plot_neighbours(emb: dwe_lib.Embedder, queries: np.ndarray, database: np.ndarray,
                    path: pathlib.Path, k: int = 5) -> None:
  plt = _plt()
  dist, idx = ops.nearest_neighbours(emb.encode(queries), _encode_all(emb, database), k=k)
  fig, axes = plt.subplots(len(queries), k + 1, figsize=(1.2 * (k + 1), 1.3 * len(queries)),
                           squeeze=False)
  for q in range(len(queries)):
    _show(axes[q, 0], queries[q], "query" if q == 0 else None)
    for j in range(k):
      _show(axes[q, j + 1], database[int(idx[q, j])], f"{float(dist[q, j]):.2f}")
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def plot_history(history: list[dict], path: pathlib.Path) -> None:
  plt = _plt()
  fig, ax = plt.subplots(figsize=(5, 3))
  ep = [h["epoch"] for h in history]
  ax.semilogy(ep, [h["valid_mse"] for h in history], "o-", label="valid W2 MSE")
  ax.semilogy(ep, [h["valid_loss"] for h in history], "s-", label="valid loss")
  ax.set_xlabel("epoch")
  ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


# ----------------------------------------------------------------------------------------------
# Cross-dataset table.


def _cross_group_data(config: ml_collections.ConfigDict, key: jax.Array, workdir: pathlib.Path,
                      g_i: int, name: str, classes: list[int]):
  cc = config.cross_dataset
  kg = jax.random.fold_in(key, g_i)
  tr = _load_split(config, "train", cc.num_train_images, classes)
  te = _load_split(config, "test", cc.num_test_images, classes)
  gdir = workdir / f"cross_{name}"
  ps = _make_pairset(jax.random.fold_in(kg, 0), tr.x, cc.num_train_pairs, gdir / "pairs_train",
                     config, f"cross {name} train")
  pt = _make_pairset(jax.random.fold_in(kg, 1), te.x, cc.num_test_pairs, gdir / "pairs_test",
                     config, f"cross {name} test")
  return kg, gdir, tr, te, ps, pt


def cross_dataset(config: ml_collections.ConfigDict, key: jax.Array, workdir: pathlib.Path,
                  main: dict[str, Any] | None = None) -> dict[str, Any]:
  """Trains one DWE per class group and scores it on every group's test pairs (thesis Table 8.1).

  ``main`` optionally holds an already trained model on all classes: ``{'name', 'embedder'}``.
  """
  groups = {name: list(classes) for name, classes in config.cross_dataset.groups.items()}
  data, models = {}, {}
  for g_i, (name, classes) in enumerate(groups.items()):
    kg, gdir, tr, te, ps, pt = _cross_group_data(config, key, workdir, g_i, name, classes)
    ptr, pva = ps.split(config.pairs.train_fraction)
    model, params, info = train_model(config, jax.random.fold_in(kg, 2), tr.x, ptr, pva, gdir,
                                      max_seconds=config.cross_dataset.max_seconds)
    data[name] = (te, pt)
    models[name] = (dwe_lib.embedder(model, params), info)
  if main is not None:
    models[main["name"]] = (main["embedder"], None)
  table = {}
  for mname, (emb, _) in models.items():
    table[mname] = {}
    for dname, (te, pt) in data.items():
      table[mname][dname] = dwe_lib.regression_scores(predict_pairs(emb, te.x, pt), pt.w2)
  return {"groups": groups, "mse": {m: {d: v["mse"] for d, v in row.items()}
                                    for m, row in table.items()},
          "correlation": {m: {d: v["correlation"] for d, v in row.items()}
                          for m, row in table.items()},
          "relative_mse": {m: {d: v["relative_mse"] for d, v in row.items()}
                           for m, row in table.items()},
          "test_w2_mean": {d: float(pt.w2.mean()) for d, (_, pt) in data.items()},
          "train_info": {m: {k: v for k, v in info.items() if k != "history"}
                         for m, (_, info) in models.items() if info is not None}}


def cross_dataset_only(config: ml_collections.ConfigDict, workdir: str | os.PathLike
                       ) -> dict[str, Any]:
  """Runs only the cross-dataset table (same keys as :func:`train_and_evaluate`).

  Writes ``<workdir>/cross_dataset.json``; lets the table run in its own process beside a main
  run with ``cross_dataset.enabled=False`` in the same workdir.
  """
  wd = pathlib.Path(workdir)
  wd.mkdir(parents=True, exist_ok=True)
  k_cross = jax.random.split(jax.random.key(config.seed), 7)[5]
  t0 = time.perf_counter()
  res = cross_dataset(config, k_cross, wd)
  res.update(wall_time_s=time.perf_counter() - t0, machine=machine_info(),
             date_utc=time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()))
  (wd / "cross_dataset.json").write_text(json.dumps(res, indent=1, default=float))
  return res


def generate_all_pairs(config: ml_collections.ConfigDict, workdir: str | os.PathLike,
                       part: str = "all") -> None:
  """Only fills the pair caches of :func:`train_and_evaluate` (``part``: main, cross or all).

  Lets the slow exact-OT generation run ahead (or in two processes) before training.
  """
  wd = pathlib.Path(workdir)
  k_pairs, k_test, _, _, _, k_cross, _ = jax.random.split(jax.random.key(config.seed), 7)
  if part in ("all", "main"):
    classes = None if list(config.classes) == [-1] else list(config.classes)
    train = _load_split(config, "train", config.num_train_images, classes)
    test = _load_split(config, "test", config.num_test_images, classes)
    _make_pairset(k_test, test.x, config.num_test_pairs, wd / "pairs_test", config, "test")
    _make_pairset(k_pairs, train.x, config.num_train_pairs, wd / "pairs_train", config,
                  "train+valid")
  if part in ("all", "cross") and config.cross_dataset.enabled:
    for g_i, (name, classes) in enumerate(config.cross_dataset.groups.items()):
      _cross_group_data(config, k_cross, wd, g_i, name, list(classes))


# ----------------------------------------------------------------------------------------------
# Entry point.


def machine_info() -> dict[str, Any]:
  cpu = platform.processor()
  try:
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
      if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
  except OSError:
    pass
  return {"cpu": cpu, "cpu_count": os.cpu_count(), "jax_backend": jax.default_backend(),
          "jax_version": jax.__version__, "python": platform.python_version()}


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | os.PathLike
                       ) -> dict[str, Any]:
  """Runs the whole DWE experiment; writes ``results.json`` and PNGs to ``workdir``."""
  t_start = time.perf_counter()
  wd = pathlib.Path(workdir)
  wd.mkdir(parents=True, exist_ok=True)
  key = jax.random.key(config.seed)
  k_pairs, k_test, k_train, k_thr, k_par, k_cross, k_nn = jax.random.split(key, 7)

  classes = None if list(config.classes) == [-1] else list(config.classes)
  train = _load_split(config, "train", config.num_train_images, classes)
  test = _load_split(config, "test", config.num_test_images, classes)
  results: dict[str, Any] = {"config": config.to_dict(), "machine": machine_info(),
                             "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
                             "dataset": config.dataset, "image_shape": list(train.x.shape[1:3]),
                             "num_train_images": len(train.x), "num_test_images": len(test.x)}

  # 1. Exact targets (checkpointed chunks) and a parity sample against POT.
  t0 = time.perf_counter()
  all_pairs = _make_pairset(k_pairs, train.x, config.num_train_pairs, wd / "pairs_train",
                            config, "train+valid")
  test_pairs = _make_pairset(k_test, test.x, config.num_test_pairs, wd / "pairs_test", config,
                             "test")
  results["pair_generation_seconds"] = time.perf_counter() - t0
  if config.pairs.parity_pairs:
    results["parity_vs_pot"] = parity_check(k_par, test.x, config.pairs.parity_pairs)
  train_pairs, valid_pairs = all_pairs.split(config.pairs.train_fraction)
  results.update(num_train_pairs=len(train_pairs), num_valid_pairs=len(valid_pairs),
                 num_test_pairs=len(test_pairs),
                 test_w2_mean=float(test_pairs.w2.mean()), test_w2_max=float(test_pairs.w2.max()))

  # 2. Training.
  model, params, info = train_model(config, k_train, train.x, train_pairs, valid_pairs, wd)
  results["train"] = {k: v for k, v in info.items() if k != "history"}
  results["history"] = info["history"]
  emb = dwe_lib.embedder(model, params)

  # 3. Test scores.
  pred = predict_pairs(emb, test.x, test_pairs)
  scores = dwe_lib.regression_scores(pred, test_pairs.w2)
  results.update({f"test_{k}": v for k, v in scores.items()})
  names = list(config.class_names)
  plot_scatter(pred, test_pairs.w2, scores, wd / "w2_scatter.png",
               f"DWE on {config.dataset}: {len(test_pairs)} held-out test pairs")
  if info["history"]:
    plot_history(info["history"], wd / "training.png")

  # 4. Throughput, operations and figures.
  if config.throughput.enabled:
    results["throughput"] = throughput(config, emb, test.x, k_thr)
  results["barycenters"] = plot_barycenters(emb, test, config.barycenter_per_class,
                                            wd / "barycenters.png", names)
  cls = np.unique(test.y)
  xa = test.x[test.y == cls[0]][0]
  xb = test.x[test.y == cls[min(1, len(cls) - 1)]][0]
  results["interpolation"] = plot_interpolation(config, emb, xa, xb, wd / "interpolation.png")
  pga_class = config.pga_class if config.pga_class in set(cls.tolist()) else int(cls[0])
  pga_name = names[pga_class] if pga_class < len(names) else str(pga_class)
  results["pga"] = {"class": pga_class, **plot_pga(
      emb, test.x[test.y == pga_class], wd / "pga.png",
      f"PGA in the DWE embedding, class {pga_name}")}
  nc = config.neighbours
  if nc.num_queries:
    qi = np.asarray(jax.random.choice(k_nn, len(test.x), (nc.num_queries,), replace=False))
    plot_neighbours(emb, test.x[qi], train.x, wd / "neighbours.png", k=5)
    results["neighbours"] = knn_agreement(
        emb, test.x[qi], train.x[:nc.database_size], nc.k,
        _targets_fn(config.pairs.solver) or (lambda u, v: pairs_lib.pair_targets(
            u, v, batch_size=config.pairs.batch_size)))

  # 5. Cross-dataset table.
  if config.cross_dataset.enabled:
    results["cross_dataset"] = cross_dataset(config, k_cross, wd,
                                             main={"name": "all classes", "embedder": emb})

  results["wall_time_s"] = time.perf_counter() - t_start
  (wd / "results.json").write_text(json.dumps(results, indent=1, default=float))
  return results
