"""Generative modelling with OT losses: minimum minibatch-Wasserstein estimation, theory figures.

``train_and_evaluate(config, workdir)``:

1. 2-D density fitting (Peyré's slides): for each target (moons, a Gaussian mixture) and each loss
   of ``wassml.generative.losses.LOSSES`` plus WGAN-GP, fit the same generator from the same
   initialisation, and report ``final_w2``: the exact ``W_2`` between 500 generated samples and
   500 held-out target samples (``wassml.ot.emd``). Figure: the fit over iterations.
2. The minibatch-OT theory figures (``wassml.generative.theory``).
3. Optionally (``config.sweep``) a sweep over ``(m, k)`` (:mod:`experiments.generative.sweep`),
   each grid point's seeds trained together by ``wassml.train.train_loop`` (``num_seeds``) and
   checkpointed in ``<workdir>/checkpoints/sweep``.

Every training goes through ``wassml.train.train_loop`` (``wassml.generative.fitting.fit`` for
the 2-D fits, whose runs of a few seconds are not checkpointed).

A config with ``experiment = "fmnist"`` (``configs/fmnist.py``) runs the Fashion-MNIST generators
of :mod:`experiments.generative.fmnist` instead, and one with ``experiment = "sweep"``
(``configs/sweep.py``) runs only the ``(m, k)`` sweep.
"""

from __future__ import annotations

import json
import pathlib
import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments.generative import figures, fmnist, sweep
from experiments.generative.common import load_target, make_sampler, make_step
from wassml.generative import fitting, losses, theory

__all__ = ["fit_2d", "load_target", "make_sampler", "make_step", "theory_figures",
           "train_and_evaluate"]


def fit_2d(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> dict[str, Any]:
  """Fits every loss on every 2-D target; returns ``final_w2`` and ``initial_w2``."""
  rng = jax.random.key(config.seed)
  final, initial, seconds = {}, {}, {}
  snapshots = {}
  for t_idx, target in enumerate(config.targets):
    train = load_target(target, "train", config.num_train, config.seed)
    heldout = jnp.asarray(load_target(target, "test", config.num_heldout, config.seed))
    final[target], initial[target], seconds[target], snapshots[target] = {}, {}, {}, {}
    for name in config.losses:
      step, init, snapshot, batch_size = make_step(name, config)
      init_rng, fit_rng = jax.random.split(jax.random.fold_in(rng, t_idx))
      state = init(init_rng)  # same initialisation for every loss
      t0 = time.perf_counter()
      state, hist = fitting.fit(fit_rng, state, train, step, num_steps=config.num_steps,
                                batch_size=batch_size, num_snapshots=config.num_snapshots,
                                snapshot_fn=snapshot, desc=f"{target}/{name}",
                                execution=config.get("execution", "auto"))
      seconds[target][name] = time.perf_counter() - t0
      first, last = hist["snapshots"][0][1], hist["snapshots"][-1][1]
      initial[target][name] = float(losses.exact_w2(first, heldout))
      final[target][name] = float(losses.exact_w2(last, heldout))
      snapshots[target][name] = hist["snapshots"]
    figures.plot_fit_over_iterations(snapshots[target], np.asarray(heldout),
                                     workdir / f"fit_{target}.png", title=target)
  return {"final_w2": final, "initial_w2": initial, "fit_seconds": seconds}


def theory_figures(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> dict[str, Any]:
  """Computes and draws the four minibatch-OT illustrations."""
  t = config.theory
  rng = jax.random.key(config.seed + 1)
  r1, r2, r3, r4 = jax.random.split(rng, 4)
  plans = theory.plan_1d_comparison(r1, t.plan_n, t.plan_batch_sizes, t.plan_num_batches)
  figures.plot_plans_1d(plans, workdir / "minibatch_plan_1d.png")
  conn = theory.class_connections(r2, num_batches=t.connections_num_batches)
  figures.plot_class_connections(conn, workdir / "class_connections.png")
  dev = theory.deviation_curve(r3, n=t.deviation_n, batch_sizes=t.deviation_batch_sizes,
                               ks=t.deviation_ks, reference_batches=t.deviation_reference_batches,
                               repeats=t.deviation_repeats)
  figures.plot_deviation(dev, workdir / "deviation.png")
  bias = theory.bias_curve(r4, n=t.bias_n, batch_sizes=t.bias_batch_sizes)
  figures.plot_bias(bias, workdir / "bias.png")
  plan_err = {m: float(np.abs(c - e).max()) for m, (c, e) in plans.items()}
  return {
      "plan_1d_max_abs_error": plan_err,
      "cross_class_mass": {"balanced": conn["balanced_cross_class_mass"],
                           "unbalanced": conn["unbalanced_cross_class_mass"]},
      "deviation": {str(m): v for m, v in dev["deviation"].items()},
      "deviation_bound": {str(m): v for m, v in dev["bound"].items()},
      "bias_h_aa": dict(zip(map(str, bias["batch_sizes"]), bias["h_aa"])),
  }


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Runs the generative experiment and writes ``results.json`` and figures into ``workdir``."""
  if config.get("experiment", "2d") == "fmnist":
    return fmnist.train_and_evaluate(config, workdir)
  out = pathlib.Path(workdir)
  out.mkdir(parents=True, exist_ok=True)
  results: dict[str, Any] = {}
  if config.get("experiment", "2d") == "sweep":  # configs/sweep.py: only the (m, k) sweep
    t0 = time.perf_counter()
    results["sweep"] = sweep.run(config, out)
    results["wall_time_s"] = time.perf_counter() - t0
    results["config"] = config.to_dict()
    (out / "results.json").write_text(json.dumps(results, indent=2))
    return results
  results.update(fit_2d(config, out))
  results["theory"] = theory_figures(config, out)
  if config.get("sweep", False):
    results["sweep"] = sweep.run(config, out)
  (out / "results.json").write_text(json.dumps(results, indent=2))
  return results
