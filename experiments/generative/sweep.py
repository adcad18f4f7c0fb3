"""Cost/quality trade-off of the minibatch estimator over ``m`` (batch size) and ``k`` (batches).

``m`` and ``k`` change array shapes, so each ``(m, k)`` is its own compiled step; the
``sweep_cfg.num_seeds`` generators of a grid point train together as the seeds of one
``wassml.train.train_loop`` (stacked states, ``sweep_cfg.execution``: ``"auto"`` steps them one
after another on CPU and vmaps/scans them on an accelerator), each on its own epochs of data
minibatches (``wassml.train.EpochBatches``); the score is the final exact ``W_2`` to held-out
data. Every grid point checkpoints in ``<workdir>/checkpoints/sweep/<loss>_m<m>_k<k>`` every
``sweep_cfg.checkpoint_every`` steps: a killed sweep restarted with the same workdir restores the
finished points and resumes the interrupted one.
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

from experiments.generative.common import load_target  # noqa: E402
from wassml import nn as wnn  # noqa: E402
from wassml import train as wtrain  # noqa: E402
from wassml.generative import fitting, losses  # noqa: E402


def run(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> dict[str, Any]:
  """Trains ``config.sweep_cfg.num_seeds`` generators per ``(m, k)``; returns W2 and timings."""
  s = config.sweep_cfg
  data = load_target(s.target, "train", config.num_train, config.seed)
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
  # Seed s: keys[s] = (init, steps, evaluation, minibatches); the same for every grid point.
  keys = jax.vmap(lambda k: jax.random.split(k, 4))(
      jax.random.split(jax.random.key(config.seed), s.num_seeds))
  init_keys, run_keys, eval_keys, batch_keys = (keys[:, j] for j in range(4))
  init = wtrain.stack_states([fitting.create_generator_state(k, gen, config.noise_dim, tx)
                              for k in init_keys])
  batches = wtrain.EpochBatches(data, n, batch_keys)

  def final_w2(state, seed):
    return {"w2": losses.exact_w2(fitting.sample(eval_keys[seed], state, config.num_heldout),
                                  heldout)}

  for m, k in wtrain.progress(grid, desc=f"sweep {s.loss} (m, k)"):
    loss_fn = losses.minibatch_loss(s.loss, batch_size=m, num_batches=k,
                                    epsilon=config.epsilon, rho=config.rho)
    step = fitting.make_ot_fitting_step(loss_fn)
    t0 = time.perf_counter()
    with wtrain.Checkpointer(workdir, max_to_keep=1,
                             subdir=f"checkpoints/sweep/{s.loss}_m{m}_k{k}") as ckpt:
      _, info = wtrain.train_loop(
          init, step, batches, rng=run_keys, num_steps=s.num_steps, num_seeds=s.num_seeds,
          execution=s.get("execution", "auto"), checkpointer=ckpt,
          checkpoint_every=s.get("checkpoint_every", 0), eval_fn=final_w2,
          desc=f"m={m} k={k}")
    seconds = time.perf_counter() - t0
    w2 = np.asarray([ev["w2"] for ev in info["last_eval"]])
    steps_run = (s.num_steps - info["start_step"]) * s.num_seeds
    table.append({"m": m, "k": k, "w2_mean": float(w2.mean()), "w2_std": float(w2.std()),
                  "resumed_from_step": info["start_step"], "execution": info["execution"],
                  "seconds_per_step_per_seed_incl_compile": seconds / max(steps_run, 1)})
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
