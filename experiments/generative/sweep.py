"""Cost/quality trade-off of the minibatch estimator over ``m`` (batch size) and ``k`` (batches).

``m`` and ``k`` change array shapes, so each ``(m, k)`` is its own compiled program; inside it the
whole training run (initialisation, ``num_steps`` steps, the final exact ``W_2`` to held-out data)
is vmapped over seeds with ``wassml.train.sweep``: one compiled call per grid point.
"""

from __future__ import annotations

import pathlib
import time
from typing import Any

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import ml_collections  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from wassml import nn as wnn  # noqa: E402
from wassml import train as wtrain  # noqa: E402
from wassml.generative import fitting, losses  # noqa: E402


def run(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> dict[str, Any]:
  """Trains ``config.sweep_cfg.num_seeds`` generators per ``(m, k)``; returns W2 and timings."""
  from experiments.generative.train import load_target  # pylint: disable=import-outside-toplevel
  s = config.sweep_cfg
  data = jnp.asarray(load_target(s.target, "train", config.num_train, config.seed))
  heldout = jnp.asarray(load_target(s.target, "test", config.num_heldout, config.seed))
  gen = wnn.MLP(hidden=tuple(config.hidden), num_outputs=2)
  tx = optax.adam(config.learning_rate)
  # n data (and n generated) samples per step; the loss averages k minibatch pairs of size m drawn
  # inside them (the incomplete estimator h_k^m of Fatras et al.). m must stay below n for k to
  # matter: with m = n every minibatch is the whole batch.
  n = s.get("data_batch_size", config.batch_size)
  if max(s.batch_sizes) > n:
    raise ValueError(f"sweep batch sizes {tuple(s.batch_sizes)} exceed the {n} data samples per "
                     "step (sweep_cfg.data_batch_size).")
  table = []
  grid = [(m, k) for m in s.batch_sizes for k in s.num_batches]
  for m, k in wtrain.progress(grid, desc=f"sweep {s.loss} (m, k)"):
    loss_fn = losses.minibatch_loss(s.loss, batch_size=m, num_batches=k,
                                    epsilon=config.epsilon, rho=config.rho)
    step = fitting.make_ot_fitting_step(loss_fn)

    def one_run(key, step=step):
      init_key, run_key, eval_key = jax.random.split(key, 3)
      state = fitting.create_generator_state(init_key, gen, config.noise_dim, tx)

      def body(state, t):
        idx = jax.random.choice(jax.random.fold_in(run_key, 2 * t), data.shape[0], (n,),
                                replace=False)
        state, metrics = step(state, data[idx], jax.random.fold_in(run_key, 2 * t + 1))
        return state, metrics["loss"]

      state, _ = jax.lax.scan(body, state, jnp.arange(s.num_steps))
      return losses.exact_w2(fitting.sample(eval_key, state, config.num_heldout), heldout)

    keys = jax.random.split(jax.random.key(config.seed), s.num_seeds)
    t0 = time.perf_counter()
    w2 = np.asarray(wtrain.sweep(one_run, keys))
    seconds = time.perf_counter() - t0
    table.append({"m": m, "k": k, "w2_mean": float(w2.mean()), "w2_std": float(w2.std()),
                  "seconds_per_step_per_seed_incl_compile": seconds / (s.num_steps * s.num_seeds)})
  fig, ax = plt.subplots(figsize=(6, 4.5))
  for k in s.num_batches:
    rows = [r for r in table if r["k"] == k]
    ax.errorbar([r["m"] for r in rows], [r["w2_mean"] for r in rows],
                yerr=[r["w2_std"] for r in rows], marker="o", capsize=3, label=f"k={k}")
  ax.set_xscale("log", base=2)
  ax.set_xlabel("minibatch size m")
  ax.set_ylabel(f"final W2 to held-out ({s.num_seeds} seeds)")
  ax.set_title(f"{s.loss} minibatch loss on {s.target}, {s.num_steps} steps, n={n} per step",
               fontsize=10)
  ax.legend()
  fig.tight_layout()
  fig.savefig(workdir / "sweep_m_k.png", dpi=90)
  plt.close(fig)
  return {"loss": s.loss, "target": s.target, "data_batch_size": n, "table": table}
