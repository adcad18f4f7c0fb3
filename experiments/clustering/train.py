"""Clustering experiment: every method and baseline over several seeds, model selection, plots.

``train_and_evaluate(config, workdir)`` writes ``<workdir>/results.json`` and PNG plots. Methods
(all on the same auto-encoder per seed, see :mod:`wassml.clustering.pipeline`): k-means and GMM on
raw data, AE + k-means, AE + GMM, WAMiC (or GeWaC with ``model.concat``) and DiWaC. Scores:
Hungarian accuracy, NMI, ARI (``wassml.metrics``), mean ± std over seeds.
"""

from __future__ import annotations

import json
import os
import pathlib
import platform
import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from wassml import data, metrics
from wassml.clustering import gmm, pipeline

METHODS = ("kmeans_raw", "gmm_raw", "ae_kmeans", "ae_gmm", "wamic", "diwac")


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------


def _flat(x: np.ndarray) -> np.ndarray:
  return np.asarray(x, np.float32).reshape(len(x), -1)


def _moons_variant(ds: data.Dataset, shift: float = 0.0, offsets=None) -> np.ndarray:
  """The registry's three moons with moved moons.

  Args:
    ds: the registry's ``three_moons`` (classes 0, 1, 2: upper arc centred at ``(0, 0)``, lower
      arc centred at ``(1, 0.5)``, upper arc centred at ``(2, 0)``; moons 0 and 2 touch at
      ``(1, 0)``).
    shift: moves the third moon right by this much (``third_moon_shift``).
    offsets: ``None`` or ``[3, 2]`` translations, one per moon (``moon_offsets``), added after
      ``shift``.

  Returns:
    ``x [N, 2]`` float32.
  """
  x = np.array(ds.x, np.float32)
  x[ds.y == 2, 0] += shift
  if offsets is not None:
    off = np.asarray(offsets, np.float32)
    if off.shape != (ds.num_classes, 2):
      raise ValueError(f"moon_offsets must be {ds.num_classes} pairs (dx, dy), got {off.tolist()}.")
    x = x + off[ds.y]
  return x


def load_data(config: ml_collections.ConfigDict) -> dict[str, Any]:
  """Returns ``{"x", "y", "x_heldout", "y_heldout", "image_shape"}`` (flat float32 arrays)."""
  kwargs = dict(config.get("dataset_kwargs", {}) or {})
  name = config.dataset
  if name == "three_moons":
    train = data.load(name, "train", **kwargs)
    held = data.load(name, "validation", **kwargs)
    shift = config.get("third_moon_shift", 0.0)
    offsets = config.get("moon_offsets", None)
    x, xh = _moons_variant(train, shift, offsets), _moons_variant(held, shift, offsets)
  else:
    train = data.load(name, "train", max_examples=config.get("max_examples"), **kwargs)
    held = data.load(name, config.get("heldout_split", "test"),
                     max_examples=config.get("max_heldout_examples"), **kwargs)
    x, xh = _flat(train.x), _flat(held.x)
  image_shape = tuple(train.x.shape[1:]) if train.x.ndim > 2 else None
  x, xh = _flat(x), _flat(xh)
  if config.get("standardize", False):
    mu, sd = x.mean(0), x.std(0) + 1e-8
    x, xh = (x - mu) / sd, (xh - mu) / sd
  return {"x": x, "y": np.asarray(train.y), "x_heldout": xh, "y_heldout": np.asarray(held.y),
          "image_shape": image_shape, "num_classes": train.num_classes}


def model_config(config: ml_collections.ConfigDict, **overrides) -> pipeline.ClusteringConfig:
  """The static :class:`~wassml.clustering.pipeline.ClusteringConfig` from ``config.model``."""
  kw = dict(config.model.to_dict())
  kw.update(overrides)
  kw = {k: tuple(v) if isinstance(v, list) else v for k, v in kw.items()}
  return pipeline.ClusteringConfig(num_clusters=config.num_clusters, **kw)


# ----------------------------------------------------------------------------------------------
# Runs
# ----------------------------------------------------------------------------------------------


def scores(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
  return {"accuracy": metrics.cluster_accuracy(y, pred), "nmi": metrics.nmi(y, pred),
          "ari": metrics.ari(y, pred)}


def raw_baselines(keys: jax.Array, x: np.ndarray, k: int, covariance_type: str) -> dict:
  """k-means and GMM on raw data for every seed (vmapped)."""
  xj = jnp.asarray(x)

  def one(key, xx):
    k1, k2 = jax.random.split(key)
    km = gmm.kmeans(k1, xx, k)
    g, _ = gmm.fit_gmm(k2, xx, k, covariance_type=covariance_type, reg_covar=1e-3)
    return {"kmeans_raw": km.labels, "gmm_raw": gmm.predict(g, xx)}

  gmm._checks.check_data(x, k=k)  # eager checks before tracing
  # The data is an argument, not a closed-over constant (XLA would constant-fold it slowly).
  return jax.tree.map(np.asarray, jax.jit(jax.vmap(one, in_axes=(0, None)))(keys, xj))


def _to_numpy_tree(tree):
  return jax.tree.map(np.asarray, tree)


def loop_options(config: ml_collections.ConfigDict, workdir: str | None
                 ) -> pipeline.LoopOptions:
  """The training-loop settings of ``config`` (``execution``, ``checkpoint_every``,
  ``log_every``, ``scan_steps``), checkpointing under ``workdir`` (None: no checkpoints)."""
  return pipeline.LoopOptions(execution=config.get("execution", "auto"),
                              workdir=None if workdir is None else str(workdir),
                              checkpoint_every=int(config.get("checkpoint_every", 0) or 0),
                              log_every=int(config.get("log_every", 10)),
                              scan_steps=config.get("scan_steps", None))


def run_methods(keys: jax.Array, x: np.ndarray, cfg: pipeline.ClusteringConfig,
                loop: pipeline.LoopOptions | None = None) -> list[dict]:
  """:func:`wassml.clustering.pipeline.run` for every key (the seeds train together); one
  result dict per seed."""
  pipeline.check_inputs(x, cfg)
  out = _to_numpy_tree(pipeline.run(keys, jnp.asarray(x), cfg, loop=loop))
  return [jax.tree.map(lambda a, i=i: a[i], out) for i in range(len(keys))]


def run_selection(keys: jax.Array, x: np.ndarray, xh: np.ndarray, cfg: pipeline.ClusteringConfig,
                  ks: tuple[int, ...], num_samples: int, num_batches: int, rule: str = "min",
                  p: float = 2.0, stratified: bool = False, ae_states=None,
                  loop: pipeline.LoopOptions | None = None, **score_kwargs) -> dict:
  """Wasserstein model selection over ``ks`` for every seed (the seeds train together).

  ``ae_states``: auto-encoders already trained (stacked over the keys, e.g. the ``ae_state`` of
  the accuracy runs), so that step 1 is done once for all as in the paper; None trains them.

  ``rule`` (``"min"`` or ``"one_se"``, see :func:`wassml.clustering.pipeline.select_k`) gives
  ``selected``; ``selected_min`` and ``selected_one_se`` (with ``num_batches >= 2``) are both
  returned as well.
  """
  pipeline.check_inputs(x, cfg)
  pipeline.check_inputs(xh, cfg)
  for k in ks:
    gmm._checks.check_num_clusters(k, x.shape[0])
  out = _to_numpy_tree(pipeline.run_model_selection(
      keys, jnp.asarray(x), jnp.asarray(xh), cfg, ks, num_samples=num_samples,
      num_batches=num_batches, rule=rule, p=p, stratified=stratified, ae_state=ae_states,
      loop=loop, **score_kwargs))
  bad = ~np.isfinite(np.asarray(out["w"])).all(-1)  # [seeds, len(ks)]
  if bad.any():
    seeds, which = np.nonzero(bad)
    raise FloatingPointError(
        "model selection: non-finite Wasserstein scores (a generator with NaN parameters) for "
        + ", ".join(f"seed {s} K={ks[i]}" for s, i in zip(seeds, which))
        + "; lower the step-3 learning rates or check the data.")
  return out


def code_label_runs(codes: np.ndarray, y: np.ndarray) -> int:
  """Diagnostic for 1-D codes (uses labels, never used to choose anything): the number of
  constant-label runs along the sorted codes. ``K`` means the codes are separated according to
  the labels (each class one code interval), as the WAMiC paper reports for three moons."""
  codes = np.asarray(codes).reshape(len(y), -1)
  if codes.shape[1] != 1:
    raise ValueError(f"code_label_runs needs 1-D codes, got dimension {codes.shape[1]}.")
  labels = np.asarray(y)[np.argsort(codes[:, 0], kind="stable")]
  return int(1 + np.count_nonzero(np.diff(labels)))


def _mean_std(values: list[float]) -> dict[str, float]:
  v = np.asarray(values, np.float64)
  return {"mean": float(v.mean()), "std": float(v.std()), "per_seed": [float(a) for a in v]}


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Runs the configured clustering experiment; writes ``results.json`` and PNGs in ``workdir``.

  Every training phase checkpoints under ``<workdir>/checkpoints/<phase>`` (model selection's
  under ``checkpoints/selection/``): a killed run started again with the same workdir restores
  the finished phases and resumes the interrupted one (``config.checkpoint_every``).

  Returns:
    The results dict (also in ``results.json``): ``accuracy`` (WAMiC, mean over seeds),
    ``selected_k`` (per seed, when model selection runs), ``methods`` (accuracy / NMI / ARI mean
    ± std per method), timings and the config.
  """
  from experiments.clustering import plots  # matplotlib only when running

  t0 = time.time()
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  d = load_data(config)
  x, y = d["x"], d["y"]
  k = config.num_clusters
  cfg = model_config(config)
  root = jax.random.key(config.seed)
  keys = jax.random.split(jax.random.fold_in(root, 0), config.num_seeds)
  results: dict[str, Any] = {"dataset": config.dataset, "num_examples": int(len(x)),
                             "input_dim": int(x.shape[1]), "num_clusters": k,
                             "num_seeds": int(config.num_seeds)}
  timings = {}

  t = time.time()
  raw = raw_baselines(jax.random.split(jax.random.fold_in(root, 1), config.num_seeds), x, k,
                      config.raw_gmm_covariance) if config.raw_baselines else None
  timings["raw_baselines_s"] = time.time() - t
  t = time.time()
  loop = loop_options(config, workdir)
  runs = run_methods(keys, x, cfg, loop)
  timings["methods_s"] = time.time() - t

  per_method: dict[str, list[dict]] = {}
  for s, r in enumerate(runs):
    preds = {m: r[m] for m in ("ae_kmeans", "ae_gmm", "wamic", "diwac") if m in r}
    if raw is not None:
      preds.update({m: raw[m][s] for m in ("kmeans_raw", "gmm_raw")})
    for m, p in preds.items():
      per_method.setdefault(m, []).append(scores(y, np.asarray(p)))
  methods = {m: {metric: _mean_std([sc[metric] for sc in v]) for metric in v[0]}
             for m, v in per_method.items()}
  reuse = config.get("raw_baselines_from", None)
  if raw is None and reuse:  # raw-data baselines copied from an earlier run (same data and seeds)
    prev = json.loads(pathlib.Path(reuse).read_text())
    for key in ("dataset", "num_examples", "num_seeds"):
      if prev[key] != results[key]:
        raise ValueError(f"raw_baselines_from={reuse}: {key} {prev[key]} != {results[key]}.")
    methods.update({m: prev["methods"][m] for m in ("kmeans_raw", "gmm_raw")
                    if m in prev["methods"]})
    results["raw_baselines_from"] = str(reuse)
  method_name = "gewac" if cfg.concat else "wamic"
  results["method"] = method_name
  results["accuracy"] = methods["wamic"]["accuracy"]["mean"]
  results["methods"] = methods
  results["diwac_loss"] = cfg.diwac_loss if cfg.run_diwac else None
  results["final_curves"] = {c: [float(np.asarray(r["curves"][c])[-1]) for r in runs]
                             for c in runs[0]["curves"]}
  if cfg.code_dim == 1:
    results["code_label_runs"] = {
        "ae": [code_label_runs(r["ae_codes"], y) for r in runs],
        "wamic": [code_label_runs(r["wamic_codes"], y) for r in runs]}
  if "ae_restart_losses" in runs[0]:
    results["ae_restarts"] = {
        "kept": [int(r["ae_restart"]) for r in runs],
        "train_reconstruction_losses": [np.asarray(r["ae_restart_losses"]).tolist()
                                        for r in runs]}
  if "diwac_proportions" in runs[0]:
    results["diwac_proportions"] = [np.asarray(r["diwac_proportions"]).round(4).tolist()
                                    for r in runs]

  ms = config.get("model_selection")
  if ms is not None and ms.enabled:
    t = time.time()
    ks = tuple(int(v) for v in ms.ks)
    ms_cfg = model_config(config, **dict(ms.get("model_overrides", {}) or {}))
    sel_keys = jax.random.split(jax.random.fold_in(root, 2), ms.num_seeds)
    rule = ms.get("rule", "min")
    ae_states = None
    if ms.get("share_autoencoder", False):  # step 1 once for all: the accuracy runs' AEs
      if ms.num_seeds > len(runs):
        raise ValueError(f"share_autoencoder needs model_selection.num_seeds={ms.num_seeds} <= "
                         f"num_seeds={len(runs)}.")
      ae_states = jax.tree.map(lambda *a: np.stack(a),
                               *[r["ae_state"] for r in runs[:ms.num_seeds]])
    sel = run_selection(sel_keys, x, d["x_heldout"], ms_cfg, ks, ms.num_samples, ms.num_batches,
                        rule, p=float(ms.get("p", 2.0)), stratified=bool(ms.get("stratified", False)),
                        ae_states=ae_states, score=ms.get("score", "exact"),
                        critic_steps=int(ms.get("critic_steps", 1000)),
                        critic_lr=float(ms.get("critic_lr", 1e-3)),
                        also_exact=bool(ms.get("also_exact", False)),
                        loop=loop.under("selection"))
    chosen = [ks[int(i)] for i in sel["selected"]]
    results["selected_k"] = chosen
    results["model_selection"] = {
        "ks": list(ks), "rule": rule, "p": float(ms.get("p", 2.0)), "selected_k": chosen,
        "num_correct": int(sum(c == d["num_classes"] for c in chosen)),
        "mean_w": np.asarray(sel["mean_w"]).tolist(),
        "se_w": np.asarray(sel["se_w"]).tolist(),
        "w_per_batch": np.asarray(sel["w"]).tolist(),
    }
    results["model_selection"]["score"] = ms.get("score", "exact")
    for r in ("min", "one_se", "exact_min", "exact_one_se"):
      if f"selected_{r}" in sel:
        ck = [ks[int(i)] for i in sel[f"selected_{r}"]]
        results["model_selection"][f"selected_k_{r}"] = ck
        results["model_selection"][f"num_correct_{r}"] = int(
            sum(c == d["num_classes"] for c in ck))
    if "w_exact" in sel:
      we = np.asarray(sel["w_exact"])
      results["model_selection"]["exact"] = {"p": float(ms.get("p", 2.0)),
                                             "mean_w": we.mean(-1).tolist(),
                                             "w_per_batch": we.tolist()}
    timings["model_selection_s"] = time.time() - t
    plots.model_selection_plots(workdir, results["model_selection"], d["num_classes"])

  if config.get("plots", True):
    t = time.time()
    plots.make_all(workdir, runs[0], x, y, d["image_shape"], cfg, results)
    timings["plots_s"] = time.time() - t
  timings["total_s"] = time.time() - t0
  results["timings"] = timings
  results["config"] = config.to_dict()
  results["machine"] = {"platform": platform.platform(), "processor": platform.processor(),
                        "cpu_count": os.cpu_count(), "jax_backend": jax.default_backend()}
  results["date_utc"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
  with open(workdir / "results.json", "w") as f:
    json.dump(results, f, indent=1, default=str)
  (workdir / "table.md").write_text(summary_table(results) + "\n")
  return results


def summary_table(results: dict) -> str:
  """A Markdown table of accuracy / NMI / ARI (mean ± std in %) per method."""
  model = (results.get("config") or {}).get("model", {})
  gmm_kind = model.get("gmm_covariance", "full") + (
      ", equal weights" if model.get("gmm_equal_weights", False) else "")
  names = {"kmeans_raw": "k-means (raw)", "gmm_raw": "GMM (raw)", "ae_kmeans": "AE + k-means",
           "ae_gmm": f"AE + GMM ({gmm_kind})", "wamic": results.get("method", "wamic").upper(),
           "diwac": f"DiWaC ({results.get('diwac_loss')})"}
  lines = ["| method | accuracy (%) | NMI (%) | ARI (%) |", "|---|---|---|---|"]
  for m in METHODS:
    if m not in results["methods"]:
      continue
    r = results["methods"][m]
    cell = lambda s: f"{100 * r[s]['mean']:.2f} ± {100 * r[s]['std']:.2f}"
    lines.append(f"| {names[m]} | {cell('accuracy')} | {cell('nmi')} | {cell('ari')} |")
  if "selected_k" in results:
    ms = results.get("model_selection", {})
    lines.append("")
    lines.append(f"Selected K per seed (rule {ms.get('rule', 'min')!r}): {results['selected_k']}")
    for r in ("min", "one_se", "exact_min", "exact_one_se"):
      if f"selected_k_{r}" in ms:
        lines.append(f"- rule {r!r}: {ms[f'selected_k_{r}']} (K = true K for "
                     f"{ms[f'num_correct_{r}']} of {len(ms[f'selected_k_{r}'])} seeds)")
  return "\n".join(lines)
