r"""Ablations of WAMiC's steps 3-4 on shared steps 1-2, on development keys.

  PYTHONPATH=. python -m experiments.clustering.ablation \
      --config=experiments/clustering/configs/ablation_moons.py --workdir=runs/ablation_moons

The config is an experiment config (``configs/*.py``) plus ``config.ablation``:

* ``seeds``: integers; seed ``s`` runs on ``jax.random.key(s)``, split into the step keys exactly as
  :func:`wassml.clustering.pipeline.run` splits its key, so the variant without overrides gives
  the WAMiC and AE + GMM predictions ``pipeline.run(jax.random.key(s), ...)`` gives. Use keys the
  reported runs do not use (those are ``split(fold_in(key(config.seed), 0), num_seeds)``).
* ``variants``: ``{name: {model key: value}}``, applied on top of ``config.model``.
* ``heldout_w1`` (optional): also score each fit by the exact ``W_1`` between generated and
  held-out data (:func:`wassml.clustering.pipeline.wasserstein_score`, 1000 stratified points, 4
  batches).

Steps 1-2 (auto-encoder and EM) are trained once per seed and per distinct value of the settings
they read (:data:`STEP12_FIELDS`); a variant that changes only steps 3-4 reuses them, so the
difference between two such variants is the steps-3-4 change alone, on the same auto-encoder.
``ablation.json`` is written after every (variant, seed); a rerun in the same workdir skips the
entries already there with the same overrides (resume). ``ablation.md`` holds the table.
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
import tqdm

from experiments.clustering import train
from wassml import metrics
from wassml.clustering import gmm, mixture, pipeline, wamic

# The ClusteringConfig fields that steps 1-2 read (auto-encoder, its state, output noise, EM).
STEP12_FIELDS = ("num_clusters", "code_dim", "hidden", "output_activation", "critic_hidden",
                 "batch_size", "ae_steps", "ae_lr", "ae_lr_schedule", "ae_restarts",
                 "ae_code_noise", "ae_code_noise_start", "ae_code_noise_anneal", "output_noise",
                 "gmm_covariance", "gmm_iters", "gmm_reg_covar", "gmm_n_init", "gmm_equal_weights",
                 "concat")


def step12_key(cfg: pipeline.ClusteringConfig) -> tuple:
  """The part of ``cfg`` steps 1-2 depend on (two variants with equal keys share steps 1-2)."""
  return tuple((f, getattr(cfg, f)) for f in STEP12_FIELDS)


def steps12(key: jax.Array, x: jax.Array, cfg: pipeline.ClusteringConfig,
            loop: pipeline.LoopOptions | None = None
            ) -> tuple[wamic.WamicState, gmm.GMMParams, jax.Array]:
  """Steps 1-2 with :func:`wassml.clustering.pipeline.run`'s keys: the auto-encoder state (with
  its observation noise), the EM mixture of its codes, and the key of steps 3-4."""
  keys = pipeline.run_keys(key)
  state, _, params, _ = pipeline.fit_steps_1_2(keys["ae"], keys["em"], x, cfg, loop=loop)
  return state, params, keys["wamic"]


def steps34(key: jax.Array, state: wamic.WamicState, params: gmm.GMMParams, x: jax.Array,
            cfg: pipeline.ClusteringConfig, loop: pipeline.LoopOptions | None = None
            ) -> wamic.WamicState:
  """Steps 3-4 (:func:`wassml.clustering.pipeline.fit_wamic_from_codes`), the final state."""
  return pipeline.fit_wamic_from_codes(key, state, x, cfg, params, loop=loop)[0]


def quantile_map_accuracy(key: jax.Array, params: mixture.MixtureParams,
                          class_proportions: np.ndarray, n: int = 200_000) -> float:
  """For 1-D codes: the accuracy a perfectly fitted generator with this mixture would give.

  Step 3 fits ``D # (sum_k pi_k N(m_k, s_k^2)) = data``. In one code dimension a decoder that runs
  along the classes in order reaches that for *any* mixture: it maps the mixture's quantile
  interval ``[F^{-1}(P_{c-1}), F^{-1}(P_c)]`` (``P_c`` the cumulative class proportions) onto
  class ``c`` (and crosses the gaps between classes steeply). Step 4's encoder inverts it, so
  the codes of class ``c`` fill that quantile interval, and the MAP rule is right exactly where
  the most probable component matches the interval. This returns that fraction (Hungarian
  matched, ``n`` mixture draws): what the mixture alone allows, whatever the decoder.

  Args:
    key: sampling key.
    params: the mixture (``d = 1``).
    class_proportions: ``[K]`` data class proportions, in code order.
    n: number of draws.
  """
  if params.means.shape[1] != 1:
    raise ValueError(f"quantile_map_accuracy needs 1-D codes, got {params.means.shape[1]}.")
  z, _ = mixture.sample(key, params, n, stratified=True)
  order = np.argsort(np.asarray(z[:, 0]), kind="stable")
  edges = np.round(np.cumsum(class_proportions) * n).astype(int)
  quantile_class = np.empty(n, int)
  quantile_class[order] = np.searchsorted(edges, np.arange(n), side="right")
  return metrics.cluster_accuracy(quantile_class, np.asarray(mixture.map_assign(params, z)))


def _load(path: pathlib.Path) -> dict:
  return json.loads(path.read_text()) if path.exists() else {}


def run_ablation(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Runs every variant on every seed; writes ``ablation.json`` and ``ablation.md``.

  Returns:
    ``{"entries": {variant: {"overrides", "per_seed": {seed: {...}}}}, ...}``; each seed entry
    has ``ae_gmm`` and ``wamic`` (accuracy, NMI, ARI), ``wamic_minus_ae_gmm`` (accuracy points
    / 100), with ``heldout_w1`` the held-out ``W_1``, and ``seconds`` (steps 3-4 and scoring).
  """
  ab = config.ablation
  seeds = [int(s) for s in ab.seeds]
  variants = {str(n): dict(v or {}) for n, v in dict(ab.variants).items()}
  if not seeds or not variants:
    raise ValueError("config.ablation needs at least one seed and one variant.")
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  out_path = workdir / "ablation.json"
  out = _load(out_path)
  out.setdefault("entries", {})
  d = train.load_data(config)
  x, y = jnp.asarray(d["x"]), d["y"]
  xh = jnp.asarray(d["x_heldout"])
  cfgs = {n: train.model_config(config, **v) for n, v in variants.items()}
  for c in cfgs.values():
    pipeline.check_inputs(d["x"], c)
  cache: dict[tuple, Any] = {}
  # The phases run through wassml.train.train_loop (config.execution); no checkpoints: a rerun
  # skips the (variant, seed) entries already in ablation.json.
  loop = pipeline.LoopOptions(execution=config.get("execution", "auto"),
                              log_every=int(config.get("log_every", 10)))
  todo = [(n, s) for n in variants for s in seeds
          if str(s) not in out["entries"].get(n, {}).get("per_seed", {})
          or out["entries"][n].get("overrides") != variants[n]]
  # Seed by seed, the variants that share steps 1-2 one after another (one auto-encoder cached).
  groups = list(dict.fromkeys(step12_key(c) for c in cfgs.values()))
  todo.sort(key=lambda ns: (seeds.index(ns[1]), groups.index(step12_key(cfgs[ns[0]]))))
  for name, seed in tqdm.tqdm(todo, desc="ablation", unit="fit"):
    cfg = cfgs[name]
    entry = out["entries"].setdefault(name, {"overrides": variants[name], "per_seed": {}})
    if entry.get("overrides") != variants[name]:  # the variant was redefined: start it again
      entry.clear()
      entry.update({"overrides": variants[name], "per_seed": {}})
    ck = (seed, step12_key(cfg))
    if ck not in cache:
      cache.clear()  # one auto-encoder at a time in memory
      cache[ck] = steps12(jax.random.key(seed), x, cfg=cfg, loop=loop)
    state, params, k34 = cache[ck]
    t = time.time()
    final = steps34(k34, state, params, x, cfg=cfg, loop=loop)
    rec = {"ae_gmm": train.scores(y, np.asarray(gmm.predict(params, wamic.encode(state, x)))),
           "wamic": train.scores(y, np.asarray(wamic.predict(final, x)))}
    rec["wamic_minus_ae_gmm"] = rec["wamic"]["accuracy"] - rec["ae_gmm"]["accuracy"]
    if ab.get("heldout_w1", False):
      w = pipeline.wasserstein_score(jax.random.fold_in(jax.random.key(seed), 7), final, xh,
                                     num_samples=1000, num_batches=4, p=1.0, stratified=True)
      rec["heldout_w1"] = float(jnp.mean(w))
    if cfg.code_dim == 1:
      rec["code_label_runs"] = train.code_label_runs(np.asarray(wamic.encode(final, x)), y)
      props = np.bincount(y) / len(y)  # equal for three moons, so their code order is moot
      qkey = jax.random.fold_in(jax.random.key(seed), 11)
      rec["quantile_map_accuracy"] = {
          "em": quantile_map_accuracy(qkey, mixture.from_gmm(params), props),
          "wamic": quantile_map_accuracy(qkey, wamic.mixture_params(final), props)}
    rec["seconds"] = time.time() - t
    entry["per_seed"][str(seed)] = rec
    out.update(dataset=config.dataset, seeds=seeds, base_model=config.model.to_dict(),
               machine={"platform": platform.platform(), "cpu_count": os.cpu_count(),
                        "jax_backend": jax.default_backend()},
               date_utc=time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()))
    out_path.write_text(json.dumps(out, indent=1, default=str))
  (workdir / "ablation.md").write_text(table(out, variants, seeds) + "\n")
  return out


def table(out: dict, variants: dict[str, dict], seeds: list[int]) -> str:
  """Markdown: per variant, AE + GMM and WAMiC accuracy (mean over seeds), their difference per
  seed, and the held-out ``W_1`` when scored."""
  recs_all = [r for n in variants for r in out["entries"].get(n, {}).get("per_seed", {}).values()]
  has_w = any("heldout_w1" in r for r in recs_all)
  has_q = any("quantile_map_accuracy" in r for r in recs_all)
  head = "| variant | overrides | AE + GMM (%) | WAMiC (%) | WAMiC − AE + GMM per seed |"
  head += " held-out W1 |" if has_w else ""
  head += " quantile-map accuracy of the WAMiC mixture (%) |" if has_q else ""
  lines = [head, "|" + "---|" * (5 + has_w + has_q)]
  for n in variants:
    per = out["entries"].get(n, {}).get("per_seed", {})
    recs = [per[str(s)] for s in seeds if str(s) in per]
    if not recs:
      continue
    mean = lambda f: 100 * float(np.mean([f(r) for r in recs]))
    diffs = ", ".join(f"{100 * r['wamic_minus_ae_gmm']:+.2f}" for r in recs)
    ov = ", ".join(f"{k}={v}" for k, v in variants[n].items()) or "(config)"
    row = (f"| {n} | {ov} | {mean(lambda r: r['ae_gmm']['accuracy']):.2f} | "
           f"{mean(lambda r: r['wamic']['accuracy']):.2f} | {diffs} |")
    if has_w:
      row += f" {np.mean([r['heldout_w1'] for r in recs]):.4f} |" if "heldout_w1" in recs[0] \
          else " |"
    if has_q:
      row += (f" {mean(lambda r: r['quantile_map_accuracy']['wamic']):.2f} |"
              if "quantile_map_accuracy" in recs[0] else " |")
    lines.append(row)
  return "\n".join(lines)


def main(config: ml_collections.ConfigDict, workdir: str) -> dict:
  out = run_ablation(config, workdir)
  print((pathlib.Path(workdir) / "ablation.md").read_text())
  return out


if __name__ == "__main__":
  from experiments import entry
  entry.run(main, "clustering")
