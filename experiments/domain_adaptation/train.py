"""Train and compare DA methods on domain pairs; writes ``results.json`` and PNG plots.

For every (pair, seed): one shared source-only pre-training (the reference's "10 source-only
epochs"), then every method starts from that state with a fresh optimiser and trains for
``config.steps`` steps on class-balanced source batches and random target batches. Checkpoints are
evaluated every ``config.eval_every`` steps; the reported accuracy is the one at the checkpoint
chosen *without target labels* (``config.selection``: source-validation accuracy by default, or
the reverse-validation score). The last checkpoint and the checkpoint with the best target-test
accuracy are also reported, the latter labelled ``oracle_target_test`` (this is how the reference
scripts picked their epoch; it uses target labels and is not a valid model-selection rule).

Every run goes through :func:`wassml.train.train_loop` (the seeds of a pair as one stacked run,
``config.execution``), with checkpoints and exact resume under the workdir.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import time
from typing import Any

import jax
import jax.numpy as jnp
import matplotlib
import ml_collections
import numpy as np
import optax

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position

from wassml import data as wdata  # pylint: disable=g-import-not-at-top,wrong-import-position
from wassml import nn as wnn  # pylint: disable=wrong-import-position
from wassml import train as wtrain  # pylint: disable=wrong-import-position
from wassml import domain_adaptation as da  # pylint: disable=wrong-import-position
from wassml.utils import checks  # pylint: disable=wrong-import-position

METHOD_LABELS = {"source_only": "source-only", "dann": "DANN", "deepjdot": "DeepJDOT",
                 "entropic_deepjdot": "entropic DeepJDOT", "jumbot": "JUMBOT"}


# ----------------------------------------------------------------------------- data
def load_pair(config: ml_collections.ConfigDict, pair: str, seed: int) -> dict[str, Any]:
  """Source train/val (labelled), target train (unlabelled) and target test of one pair.

  ``pair`` is a :func:`wassml.data.domain_pair` name, or ``'reverse:<name>'`` to swap the domains.
  """
  kw = dict(config.get("pair_kwargs", {}) or {})
  name, reverse = (pair[len("reverse:"):], True) if pair.startswith("reverse:") else (pair, False)
  src, tgt = wdata.domain_pair(name, split="train", max_examples=config.max_train, seed=seed,
                               **kw)
  src_te, tgt_te = wdata.domain_pair(name, split="test", max_examples=config.max_test,
                                     seed=seed, **kw)
  if reverse:  # e.g. 'reverse:mnist_usps_style' is USPS(-style) -> MNIST
    src, tgt, tgt_te = tgt, src, src_te
  del src_te
  checks.check_same_feature_shape(src.x, tgt.x)
  rng = np.random.default_rng(seed)
  perm = rng.permutation(len(src))
  n_val = int(round(config.source_val_fraction * len(src)))
  return {
      "source": src.take(perm[n_val:]), "source_val": src.take(perm[:n_val]),
      "target": tgt, "target_test": tgt_te, "num_classes": src.num_classes,
      "present": np.isin(np.arange(src.num_classes), np.unique(tgt.y)),
  }


# ----------------------------------------------------------------------------- model
def build_model(config: ml_collections.ConfigDict, num_classes: int, dann: bool) -> da.DAModel:
  """The DA model: a ``wassml.nn`` backbone (+ DANN discriminator when ``dann``)."""
  if config.model == "mlp":
    backbone = wnn.MLP(hidden=tuple(config.hidden), num_outputs=num_classes)
  elif config.model == "digits_cnn":
    backbone = wnn.DigitsCNN(num_classes=num_classes, widths=tuple(config.cnn_widths),
                             feature_dim=config.feature_dim)
  elif config.model == "small_cnn":
    backbone = wnn.SmallCNN(num_classes=num_classes, widths=tuple(config.cnn_widths),
                            feature_dim=config.feature_dim, use_batchnorm=True)
  else:
    raise ValueError(f"unknown model {config.model!r}; valid names: mlp, digits_cnn, small_cnn.")
  return da.DAModel(backbone, discriminator_hidden=config.dann_hidden if dann else 0)


def pair_config(config: ml_collections.ConfigDict, pair: str) -> ml_collections.ConfigDict:
  """``config`` with ``config.pair_overrides[pair]`` applied (e.g. a smaller ``rho`` on partial DA).

  ``pair_overrides`` maps a pair name to a dict of config fields; pairs without an entry (or a
  config without the field) get ``config`` itself.

  Raises:
    ValueError: an override names a field the config does not have.
  """
  overrides = (config.get("pair_overrides") or {}).get(pair) or {}
  overrides = overrides.to_dict() if hasattr(overrides, "to_dict") else dict(overrides)
  if not overrides:
    return config
  unknown = sorted(k for k in overrides if k not in config)
  if unknown:
    raise ValueError(f"pair_overrides[{pair!r}] names unknown config fields {unknown}.")
  c = ml_collections.ConfigDict(config.to_dict())
  c.update(overrides)
  return c


def _pretrain_key(config, data, seed: int) -> tuple:
  """Identifies a source-only pre-training: the labelled source rows, the seed and the settings
  it depends on. Pairs with the same source (e.g. a pair and its ``_partial`` variant) get the same
  key, so their pre-training is run once and shared (it would be identical: the same key, data,
  source batches and initialisation; source-only training never reads the target)."""
  src = data["source"]
  digest = hashlib.sha1(np.ascontiguousarray(src.x).tobytes())
  digest.update(np.ascontiguousarray(src.y).tobytes())
  fields = ("model", "hidden", "cnn_widths", "feature_dim", "learning_rate", "per_class",
            "target_batch", "pretrain_steps", "seed")
  return (seed, digest.hexdigest(), tuple(str(config.get(f)) for f in fields))


def _fresh_optimizer(state, tx):
  return state.replace(step=0, tx=tx, opt_state=tx.init(state.params))


def _method_kwargs(config):
  return dict(eta1=config.eta1, eta2=config.eta2, eta3=config.eta3, epsilon=config.epsilon,
              rho=config.rho, num_iters=config.get("num_iters"), dann_weight=config.dann_weight,
              exact_method=config.exact_method,
              convention=config.get("convention", "entropy"))


# Bounded: at most 16 compiled steps (and the models they close over) stay alive.
@functools.lru_cache(maxsize=16)
def _cached_step(method, apply_fn, kwargs):
  """One compiled step per (method, model, settings), reused across pairs, seeds and runs.

  The source labels are checked once per run in :func:`train_method` (the compiled step cannot
  check values)."""
  return jax.jit(da.make_da_step(method, apply_fn, jit=False, **dict(kwargs)))


# ----------------------------------------------------------------------------- evaluation
def evaluate(state, data: dict[str, Any], config) -> dict[str, float]:
  """Source-val accuracy, reverse-validation score (no target labels) and target-test accuracy."""
  bs = getattr(state, "batch_stats", None)
  lv, fv = da.predict(state.apply_fn, state.params, bs, data["source_val"].x)
  lt, ft = da.predict(state.apply_fn, state.params, bs, data["target"].x[:config.max_eval])
  lte, _ = da.predict(state.apply_fn, state.params, bs, data["target_test"].x)
  return {
      "source_val_acc": float(np.mean(lv.argmax(-1) == data["source_val"].y)),
      "reverse_val": float(da.reverse_validation_score(ft, lt, fv, data["source_val"].y)),
      "target_test_acc": float(np.mean(lte.argmax(-1) == data["target_test"].y)),
  }


def _sampler(data, config, key, grl_steps=None) -> da.DABatches:
  """The ``batch_fn`` of one run: balanced source batches, shuffled target batches."""
  return da.DABatches(data["source"].x, data["source"].y, data["target"].x,
                      per_class=config.per_class,
                      target_batch=config.target_batch or config.per_class * data["num_classes"],
                      key=key, grl_steps=grl_steps)


def _history(evals: list[dict], records: list[dict], seed: int | None) -> dict[str, list]:
  """train_loop's evaluations (and the writer's training means, one per evaluation period) as
  ``{'step': [...], metric: [...], 'train_<metric>': [...]}``."""
  hist: dict[str, list] = {"step": [int(h["step"]) for h in evals]}
  for h in evals:
    for n, v in h.items():
      if n != "step":
        hist.setdefault(n, []).append(v)
  train = {r["step"]: r for r in records
           if r.get("seed") == seed and any(n.startswith("train/") for n in r)}
  for step in hist["step"]:
    for n, v in train[step].items():
      if n.startswith("train/"):
        hist.setdefault(f"train_{n[len('train/'):]}", []).append(v)
  return hist


def train_method(method: str, state, data, config, key, *, steps: int,
                 eval_every: int | None, desc: str = "", workdir: str | None = None,
                 name: str | None = None):
  """Trains one method from ``state`` with :func:`wassml.train.train_loop`; returns
  ``(state, history)``.

  ``history`` lists, at every evaluation (every ``eval_every`` steps and at the end; none when
  ``eval_every`` is None), the step and :func:`evaluate`'s metrics, plus the mean training
  metrics since the previous evaluation (``train_<metric>``).

  Several seeds train together: ``data`` a list of per-seed pairs, ``state`` stacked over them
  (:func:`wassml.train.stack_states`) and ``key`` one key per seed; ``history`` is then a list
  per seed. ``config.execution`` picks how (see :func:`wassml.train.train_loop`).

  With ``workdir`` the run checkpoints under ``<workdir>/checkpoints/<name>`` (default name:
  ``method``) every ``config.checkpoint_every`` steps (None: at every evaluation; and at the end)
  and resumes from there; its training metrics go to ``<workdir>/metrics/<name>.jsonl``.
  """
  name = name or method
  seeds = isinstance(data, (list, tuple))
  datas = list(data) if seeds else [data]
  keys = list(key) if seeds else [key]
  for d in datas:
    checks.check_labels(d["source"].y, d["num_classes"], "source labels")
  step_fn = _cached_step(method, state.apply_fn, tuple(sorted(_method_kwargs(config).items())))
  grl = steps if method == "dann" else None
  samplers = [_sampler(d, config, jax.random.fold_in(k, 1), grl) for d, k in zip(datas, keys)]
  rngs = [jax.random.fold_in(k, 2) for k in keys]
  eval_fn = None
  if eval_every:
    if seeds:
      eval_fn = lambda st, s: evaluate(st, datas[s], config)
    else:
      eval_fn = lambda st: evaluate(st, datas[0], config)
  every = config.get("checkpoint_every")
  every = (eval_every or 0) if every is None else every
  state, info = wtrain.run_phase(
      state, step_fn, (lambda i, s: samplers[s](i)) if seeds else samplers[0],
      workdir=workdir or None, name=name, rng=jnp.stack(rngs) if seeds else rngs[0],
      num_steps=steps, num_seeds=len(keys) if seeds else None,
      execution=config.get("execution", "auto"), checkpoint_every=every,
      log_every=eval_every or steps, eval_fn=eval_fn, eval_every=eval_every or 0, desc=desc,
      show_progress=config.get("progress", True))
  records = info["records"]
  evals = info["history"] if seeds else [info["history"]]
  hists = [_history(h, records, s if seeds else None) for s, h in enumerate(evals)]
  return state, (hists if seeds else hists[0])


def summarize(history: dict[str, list], selection: str) -> dict[str, Any]:
  """Target accuracy at the selected, last and (oracle) best-on-target-test checkpoints."""
  sel = da.select_index(history, selection)
  acc = history["target_test_acc"]
  out = {"selected": acc[sel], "selected_step": history["step"][sel]}
  for alt in _alternative_rules(selection):
    out[f"selected_by_{alt}"] = acc[da.select_index(history, alt)]
  out.update({"last": acc[-1], "oracle_target_test": max(acc),
              "source_val_acc": history["source_val_acc"][sel]})
  return out


def _alternative_rules(selection: str) -> list[str]:
  """The label-free rules other than ``selection`` that are also reported ('last' is always
  reported under its own key)."""
  return [r for r in ("source_val", "reverse_val") if r != selection]


# ----------------------------------------------------------------------------- plan diagnostics
def plan_diagnostics(state, data, config, key) -> dict[str, Any]:
  """Balanced (exact) vs unbalanced (JUMBOT) plans on one minibatch of the trained model."""
  k = data["num_classes"]
  s_idx, t_idx = _sampler(data, config, key).indices(0)
  bs = getattr(state, "batch_stats", None)
  _, fs = da.predict(state.apply_fn, state.params, bs, data["source"].x[s_idx])
  lt, ft = da.predict(state.apply_fn, state.params, bs, data["target"].x[t_idx])
  ys = data["source"].y[s_idx]
  yt = data["target"].y[t_idx]
  out = {"source_labels": ys, "target_labels": yt}
  for name, method in (("balanced", "deepjdot"), ("unbalanced", "jumbot")):
    solver = da.make_solver(method, epsilon=config.epsilon, rho=config.rho,
                            num_iters=config.get("num_iters"),
                            exact_method=config.exact_method,
                            convention=config.get("convention", "entropy"))
    res = da.joint_ot_loss(fs, ys, ft, lt, solver=solver, eta1=config.eta1, eta2=config.eta2)
    mass = np.asarray(da.plan_mass_per_class(res.plan, ys, k))
    out[name] = {
        "plan": np.asarray(res.plan), "mass_per_class": mass,
        "mass_fraction_per_class": mass / max(mass.sum(), 1e-12),
        "missing_over_present": float(da.missing_class_mass_ratio(mass, data["present"]))
        if not data["present"].all() else None,
    }
  return out


# ----------------------------------------------------------------------------- plots
def _embed_2d(feats: np.ndarray, kind: str, seed: int) -> np.ndarray:
  if kind == "tsne":
    from sklearn.manifold import TSNE  # pylint: disable=g-import-not-at-top
    return TSNE(2, init="pca", random_state=seed, perplexity=30).fit_transform(feats)
  from sklearn.decomposition import PCA  # pylint: disable=g-import-not-at-top
  return PCA(2, random_state=seed).fit_transform(feats)


def plot_embeddings(path, states: dict[str, Any], data, config, title: str) -> None:
  """Source (o) and target (x) embeddings, coloured by class, for each named model state."""
  n = config.plot_points
  xs, ys = data["source_val"].x[:n], data["source_val"].y[:n]
  xt, yt = data["target_test"].x[:n], data["target_test"].y[:n]
  fig, axes = plt.subplots(1, len(states), figsize=(4.2 * len(states), 4), squeeze=False)
  cmap = plt.get_cmap("tab10")
  for ax, (name, st) in zip(axes[0], states.items()):
    bs = getattr(st, "batch_stats", None)
    _, fs = da.predict(st.apply_fn, st.params, bs, xs)
    _, ft = da.predict(st.apply_fn, st.params, bs, xt)
    z = _embed_2d(np.concatenate([fs, ft]), config.embedding_plot, 0)
    zs, zt = z[:len(fs)], z[len(fs):]
    ax.scatter(zs[:, 0], zs[:, 1], c=cmap(ys % 10), marker="o", s=8, alpha=0.6, label="source")
    ax.scatter(zt[:, 0], zt[:, 1], c=cmap(yt % 10), marker="x", s=10, alpha=0.6, label="target")
    ax.set_title(name, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
  axes[0][0].legend(loc="best", fontsize=7)
  fig.suptitle(f"{title} ({config.embedding_plot.upper()}; colour = class, o source, x target)",
               fontsize=10)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def plot_plans(path, diag: dict[str, Any], num_classes: int, present, title: str) -> None:
  """Balanced vs unbalanced minibatch plans (rows: source by class) and mass per source class."""
  ys, yt = diag["source_labels"], diag["target_labels"]
  rs, ct = np.argsort(ys, kind="stable"), np.argsort(yt, kind="stable")
  fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
  for ax, name in zip(axes[:2], ("balanced", "unbalanced")):
    p = diag[name]["plan"][rs][:, ct]
    ax.imshow(p, aspect="auto", cmap="magma_r", interpolation="nearest")
    ax.set_title(f"{name} plan (total mass {p.sum():.3f})", fontsize=9)
    ax.set_xlabel("target sample (sorted by true class)")
    ax.set_ylabel("source sample (sorted by class)")
  width = 0.4
  kk = np.arange(num_classes)
  for off, name in ((-width / 2, "balanced"), (width / 2, "unbalanced")):
    axes[2].bar(kk + off, diag[name]["mass_fraction_per_class"], width, label=name)
  for c in kk[~np.asarray(present)]:
    axes[2].axvspan(c - 0.5, c + 0.5, color="grey", alpha=0.15, lw=0)
  axes[2].set_xticks(kk)
  axes[2].set_xlabel("source class (grey: absent from target)")
  axes[2].set_ylabel("fraction of transported mass")
  axes[2].legend(fontsize=8)
  fig.suptitle(title, fontsize=10)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def plot_accuracy(path, table: dict[str, dict[str, Any]], methods, title: str) -> None:
  """Grouped bars: target accuracy (selected without target labels), mean +- std over seeds."""
  pairs = list(table)
  fig, ax = plt.subplots(figsize=(max(5, 1.8 * len(pairs) * len(methods) / 3), 3.8))
  width = 0.8 / len(methods)
  for j, m in enumerate(methods):
    means = [100 * table[p][m]["mean"] for p in pairs]
    stds = [100 * table[p][m]["std"] for p in pairs]
    ax.bar(np.arange(len(pairs)) + (j - (len(methods) - 1) / 2) * width, means, width,
           yerr=stds, capsize=2, label=METHOD_LABELS.get(m, m))
  ax.set_xticks(np.arange(len(pairs)))
  ax.set_xticklabels(pairs, fontsize=8)
  ax.set_ylabel("target test accuracy (%)")
  lo = min(100 * table[p][m]["mean"] for p in pairs for m in methods)
  ax.set_ylim(max(0, lo - 10), 100)
  ax.legend(fontsize=7, ncol=len(methods))
  ax.set_title(title, fontsize=10)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


# ----------------------------------------------------------------------------- main
def _fname(pair: str) -> str:
  return pair.replace(":", "_")


def _jsonable(x):
  if isinstance(x, dict):
    return {str(k): _jsonable(v) for k, v in x.items()}
  if isinstance(x, (list, tuple)):
    return [_jsonable(v) for v in x]
  if isinstance(x, (np.ndarray, jax.Array)):
    return _jsonable(np.asarray(x).tolist())
  if isinstance(x, (np.floating,)):
    return float(x)
  if isinstance(x, (np.integer,)):
    return int(x)
  return x


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Runs every (pair, seed, method) of ``config``; writes ``<workdir>/results.json`` + PNGs.

  Every training run (a pair's pre-training, then each method; the seeds of a pair together)
  checkpoints under ``<workdir>/checkpoints/<pair>/<run>``: a killed run started again with the
  same workdir restores the finished runs (with their evaluation histories) and resumes the
  interrupted one from its last checkpoint (``config.checkpoint_every``).

  Returns:
    The results dict. ``results[method][pair]`` is the mean target-test accuracy over seeds at
    the checkpoint selected without target labels; ``results['table']`` has the details (std,
    per seed, last, reverse-validation selection, oracle target-test selection).
  """
  os.makedirs(workdir, exist_ok=True)
  t_start = time.time()
  methods = list(config.methods)
  for m in methods:
    if m not in da.METHODS:
      raise ValueError(f"unknown DA method {m!r}; valid names: {', '.join(da.METHODS)}.")
  tx = optax.adam(config.learning_rate)
  runs: dict[str, dict[str, dict[str, Any]]] = {}
  plans: dict[str, Any] = {}
  pretrained: dict[tuple, Any] = {}   # source-only start, shared by pairs with the same source
  for pair in config.pairs:
    runs[pair] = {m: {} for m in methods}
    config_all, config = config, pair_config(config, pair)  # per-pair settings (e.g. rho)
    seeds = list(config.seeds)
    keys = [jax.random.fold_in(jax.random.key(config.seed), seed) for seed in seeds]
    datas = [load_pair(config, pair, seed) for seed in seeds]
    k = datas[0]["num_classes"]
    if any(d["num_classes"] != k for d in datas):
      raise ValueError(f"{pair}: the seeds' samples have different numbers of classes.")
    model = build_model(config, k, dann=False)
    x0 = jnp.asarray(datas[0]["source"].x[:2])
    # Every seed of a (pair, method) trains together (train_loop's seeds, config.execution); the
    # states are stacked over seeds.
    per_seed = lambda fn, st: wtrain.stack_states(
        [fn(s, one) for s, one in enumerate(wtrain.unstack_states(st, len(seeds)))])
    pkey = tuple(_pretrain_key(config, d, seed) for d, seed in zip(datas, seeds))
    if pkey not in pretrained:
      state0 = wtrain.stack_states([wtrain.create_train_state(jax.random.fold_in(kk, 0), model,
                                                              x0, tx) for kk in keys])
      state0, _ = train_method("source_only", state0, datas, config,
                               [jax.random.fold_in(kk, 1) for kk in keys],
                               steps=config.pretrain_steps, eval_every=None,
                               desc=f"{pair} pretrain", workdir=workdir,
                               name=f"{_fname(pair)}/pretrain")
      pretrained[pkey] = state0
    state0 = pretrained[pkey]
    finals = {}
    for method in methods:
      st = per_seed(lambda s, one: _fresh_optimizer(one, tx), state0)
      if method == "dann":
        dmodel = build_model(config, k, dann=True)

        def with_discriminator(s, one):
          dstate = wtrain.create_train_state(jax.random.fold_in(keys[s], 2), dmodel, x0, tx)
          params = dict(dstate.params)
          params["backbone"] = one.params["backbone"]
          return _fresh_optimizer(dstate.replace(params=params, batch_stats=one.batch_stats), tx)

        st = per_seed(with_discriminator, state0)
      # Same data order for every method of a (pair, seed): a paired comparison.
      st, hists = train_method(method, st, datas, config,
                               [jax.random.fold_in(kk, 100) for kk in keys],
                               steps=config.steps, eval_every=config.eval_every,
                               desc=f"{pair} {method}", workdir=workdir,
                               name=f"{_fname(pair)}/{method}")
      for seed, hist in zip(seeds, hists):
        runs[pair][method][seed] = {"history": hist, **summarize(hist, config.selection)}
      finals[method] = wtrain.unstack_states(st, len(seeds))[0]
    # Plots of the first seed.
    data, key = datas[0], keys[0]
    shown = {"before (source-only pre-training)": wtrain.unstack_states(state0, len(seeds))[0]}
    for m in ("source_only", "jumbot"):
      if m in finals:
        shown[f"after: {METHOD_LABELS[m]}"] = finals[m]
    plot_embeddings(os.path.join(workdir, f"embeddings_{_fname(pair)}.png"), shown, data, config,
                    f"{pair}, seed {seeds[0]}")
    if "jumbot" in finals and (not data["present"].all() or config.plot_all_plans):
      diag = plan_diagnostics(finals["jumbot"], data, config, jax.random.fold_in(key, 7))
      plot_plans(os.path.join(workdir, f"plan_{_fname(pair)}.png"), diag, k, data["present"],
                 f"{pair}: one minibatch on the JUMBOT-trained embedding "
                 f"(eps={config.epsilon}, rho={config.rho})")
      plans[pair] = {n: {kk: v for kk, v in diag[n].items() if kk != "plan"}
                     for n in ("balanced", "unbalanced")}
      plans[pair]["target_classes"] = np.nonzero(data["present"])[0]
    config = config_all
    if pair != config.pairs[-1]:   # keep the finished pairs should the run be cut short
      _write_results(config, workdir, runs, plans, t_start, complete=False)
  return _write_results(config, workdir, runs, plans, t_start, complete=True)


def _write_results(config, workdir: str, runs, plans, t_start: float, *,
                   complete: bool) -> dict[str, Any]:
  """Aggregates ``runs`` over seeds, writes ``results.json`` + ``accuracy.png``; returns results.

  Called after every pair with ``complete=False`` (so a run cut short keeps its finished pairs,
  marked ``"complete": false``), and once at the end with ``complete=True``.
  """
  methods = list(config.methods)
  alts = _alternative_rules(config.selection)
  table: dict[str, dict[str, Any]] = {}
  for pair, by_method in runs.items():
    table[pair] = {}
    for m, by_seed in by_method.items():
      rows = list(by_seed.values())
      sel = [r["selected"] for r in rows]
      table[pair][m] = {
          "mean": float(np.mean(sel)), "std": float(np.std(sel)), "per_seed": sel,
          "last_mean": float(np.mean([r["last"] for r in rows])),
          **{f"selected_by_{alt}_mean": float(np.mean([r[f"selected_by_{alt}"] for r in rows]))
             for alt in alts},
          "oracle_target_test_mean": float(np.mean([r["oracle_target_test"] for r in rows])),
      }
  results: dict[str, Any] = {m: {p: table[p][m]["mean"] for p in table} for m in methods}
  results.update({
      "complete": complete,
      "table": table,
      "plan_mass": plans,
      "selection": config.selection,
      "runs": {p: {m: {str(s): r for s, r in bs.items()} for m, bs in bm.items()}
               for p, bm in runs.items()},
      "config": config.to_dict(),
      "machine": {"platform": platform.platform(), "processor": platform.processor(),
                  "cpu_count": os.cpu_count(), "jax_backend": jax.default_backend(),
                  "devices": [str(d) for d in jax.devices()]},
      "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
      "wall_seconds": time.time() - t_start,
  })
  plot_accuracy(os.path.join(workdir, "accuracy.png"), table, methods,
                f"target accuracy, selected by {config.selection} "
                f"({len(config.seeds)} seed(s))")
  with open(os.path.join(workdir, "results.json"), "w") as f:
    json.dump(_jsonable(results), f, indent=1)
  return results
