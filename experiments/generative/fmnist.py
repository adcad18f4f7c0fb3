"""Fashion-MNIST generators trained with the minibatch Sinkhorn divergence and with WGAN-GP.

``train_and_evaluate(config, workdir)``:

1. The feature space. A ``wassml.nn`` classifier is trained on the image dataset with the
   supervised example (``experiments.supervised.train.train_and_evaluate`` in
   ``<workdir>/classifier``); a rerun with the same workdir restores its final checkpoint instead
   of training it again. Its penultimate layer (``return_features=True``) is the feature map
   ``phi``.
2. The sample-quality score, **FID-like, not FID**: the exact ``W_2`` (``wassml.ot.emd``) between
   the features of ``num_eval`` generated images and of ``num_eval`` held-out test images. FID fits
   Gaussians to Inception features and uses the Fréchet (Gaussian ``W_2``) distance; here the
   features are those of a small Fashion-MNIST classifier and ``W_2`` is computed exactly between
   the two empirical point clouds, so the numbers are not comparable with published FIDs. Two
   anchors make the scale readable: ``num_eval`` real *train* images vs the same test images (the
   floor that finite samples allow), and the untrained generator.
3. One generator per loss of ``config.losses`` (``'sinkhorn_divergence'``, ``'wgan_gp'``, or any
   other loss of ``wassml.generative.losses``), built by
   :func:`experiments.generative.common.make_step` with the same :class:`ImageGenerator`, noise and
   batch size, trained with the resumable ``wassml.train.train_loop`` (Orbax checkpoints in
   ``<workdir>/<loss>``; a killed run resumes), scored every ``eval_every`` steps.
4. The time per training step of each loss, measured in the same process on the same batch size
   after training (compiled, ``timing_steps`` steps, ``block_until_ready``; the minimum of
   ``timing_rounds`` interleaved rounds).

Outputs in ``workdir``: ``results.json``, ``samples_<loss>.png`` (one grid per loss, plus
``samples_untrained.png`` and ``samples_real_test.png``), ``fid_like.png`` (the score over
training against the two anchors), ``step_time.png`` and ``tables.md`` (the tables of
``results.json`` in Markdown).
"""

from __future__ import annotations

import datetime
import json
import pathlib
import platform
import time
from typing import Any

import jax
import jax.numpy as jnp
import matplotlib
import ml_collections
import numpy as np
import optax

from experiments.generative import common
from experiments.supervised import train as sup_train
from wassml import data as wdata
from wassml import train as wtrain
from wassml.generative import losses, models

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  pylint: disable=g-import-not-at-top


# ----------------------------------------------------------------------------------------------
# Feature space and the FID-like score.
# ----------------------------------------------------------------------------------------------
def feature_classifier(config: ml_collections.ConfigDict, workdir: pathlib.Path
                       ) -> tuple[wtrain.TrainState, dict[str, Any]]:
  """Trains (or restores) the classifier whose penultimate layer is the feature space.

  Args:
    config: the supervised example's config (``experiments/supervised/configs``).
    workdir: its run folder; ``results.json`` there marks a finished run.

  Returns:
    ``(state, info)``: the trained classifier state and ``{"cached", "test_accuracy", ...}``.
  """
  workdir.mkdir(parents=True, exist_ok=True)
  done = workdir / "results.json"
  cached = done.exists()
  if not cached:
    sup_train.train_and_evaluate(config, str(workdir))
  results = json.loads(done.read_text())
  # Rebuild the state the supervised run checkpointed (same model and optimiser structure) and
  # restore its final checkpoint into it.
  ds = wdata.load(config.dataset, "train", max_examples=1)
  model = sup_train.build_model(config, results.get("num_classes", ds.num_classes))
  lr = wtrain.make_schedule(config.schedule, learning_rate=config.learning_rate,
                            num_steps=max(int(results["steps"]), 1))
  target = wtrain.create_train_state(jax.random.key(0), model, jnp.asarray(ds.x[:1]),
                                     optax.adamw(lr, weight_decay=config.weight_decay))
  with wtrain.Checkpointer(workdir, max_to_keep=2) as ckpt:
    step = ckpt.latest_step()
    if step != int(results["steps"]):
      raise wtrain.CheckpointError(
          f"The classifier run in {workdir} finished at step {results['steps']} but its latest "
          f"checkpoint is {step}; delete {workdir} to retrain it.")
    state = ckpt.restore(target, step)
  info = {"cached": cached, "model": config.model, "steps": int(results["steps"]),
          "epochs": results["epochs_run"], "num_train": results["num_train"],
          "test_accuracy": results["test_accuracy"],
          "train_time_s": None if cached else results["train_time_s"]}
  return state, info


def features(classifier: wtrain.TrainState, images: np.ndarray, *, batch_size: int = 500
             ) -> np.ndarray:
  """Penultimate-layer features ``[n, f]`` of ``images [n, H, W, C]`` (inference mode)."""
  _, feats = wtrain.predict(classifier, np.asarray(images, np.float32),
                            batch_size=batch_size, return_features=True)
  return np.asarray(feats, np.float32)


def fid_like(features_a: np.ndarray, features_b: np.ndarray) -> float:
  """The FID-like score: exact ``W_2`` between two feature clouds ``[n, f]``, ``[n', f]``.

  Not FID: no Gaussian fit and no Inception network (see the module docstring).
  """
  return float(losses.exact_w2(features_a, features_b))


# ----------------------------------------------------------------------------------------------
# Figures.
# ----------------------------------------------------------------------------------------------
def plot_grid(images: np.ndarray, path: pathlib.Path, title: str) -> None:
  """Saves a square grid of ``images [k * k, H, W, C]`` (grayscale or RGB) in ``[0, 1]``."""
  k = int(np.sqrt(len(images)))
  if k * k != len(images) or k == 0:
    raise ValueError(f"plot_grid needs a square number of images, got {len(images)}.")
  imgs = np.clip(np.asarray(images), 0.0, 1.0)
  h, w, c = imgs.shape[1:]
  grid = imgs.reshape(k, k, h, w, c).transpose(0, 2, 1, 3, 4).reshape(k * h, k * w, c)
  fig, ax = plt.subplots(figsize=(5, 5.3))
  ax.imshow(grid[..., 0] if c == 1 else grid, cmap="gray_r" if c == 1 else None, vmin=0, vmax=1)
  ax.set_axis_off()
  ax.set_title(title, fontsize=9)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def plot_scores(curves: dict[str, list[tuple[int, float]]], anchors: dict[str, float],
                path: pathlib.Path) -> None:
  """The FID-like score over training per loss, with horizontal anchor lines."""
  fig, ax = plt.subplots(figsize=(6.5, 4.2))
  for name, pts in curves.items():
    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
  for (label, value), style in zip(anchors.items(), ("--", ":", "-.")):
    ax.axhline(value, color="gray", linestyle=style, label=f"{label} ({value:.3g})")
  ax.set_yscale("log")
  ax.set_xlabel("generator step")
  ax.set_ylabel("FID-like: exact W2 in classifier features")
  ax.set_title("Sample quality (FID-like, not FID); lower is better", fontsize=10)
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def plot_step_times(times: dict[str, float], path: pathlib.Path, batch_size: int) -> None:
  """Bar chart of milliseconds per training step."""
  fig, ax = plt.subplots(figsize=(5, 3.2))
  names = list(times)
  ax.bar(names, [1e3 * times[n] for n in names], color=["C0", "C1", "C2", "C3"][:len(names)])
  ax.set_ylabel("ms per generator step")
  ax.set_title(f"Training time per step, batch {batch_size} (same process)", fontsize=10)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def markdown_tables(results: dict[str, Any]) -> str:
  """The sample-quality and timing tables of a ``results.json`` dict, as Markdown."""
  ref = results["reference_fid_like_train_vs_test"]
  n = results["num_eval"]
  lines = [f"| generator | steps | FID-like (features) | / reference | pixel-space W2 | "
           "ms per step | train wall s (this process) |",
           "|---|---|---|---|---|---|---|",
           f"| real train images (reference, n={n}) | - | {ref:.3f} | 1.00 | "
           f"{results['reference_pixel_w2_train_vs_test']:.3f} | - | - |"]
  for name, run in results["runs"].items():
    lines.append(f"| {name}, untrained | 0 | {run['untrained_fid_like']:.3f} | "
                 f"{run['untrained_fid_like'] / ref:.2f} | {run['untrained_pixel_w2']:.3f} "
                 "| - | - |")
  for name, run in results["runs"].items():
    lines.append(f"| {name}, trained | {run['steps']} | {run['fid_like']:.3f} | "
                 f"{run['fid_like'] / ref:.2f} | {run['pixel_w2']:.3f} | "
                 f"{1e3 * run['seconds_per_step']:.1f} | {run['train_wall_s_this_process']:.0f} |")
  lines += ["", "FID-like over training (step: score):", ""]
  for name, run in results["runs"].items():
    pts = ", ".join(f"{s}: {v:.3f}" for s, v in run["fid_like_curve"])
    lines.append(f"- {name}: {pts}")
  return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------
# Training.
# ----------------------------------------------------------------------------------------------
def time_step(step, state: Any, batch: jax.Array, rng: jax.Array, num_steps: int) -> float:
  """Seconds per call of the jitted ``step`` (compiled first; state threaded through)."""
  state, m = step(state, batch, rng)
  jax.block_until_ready(m)
  t0 = time.perf_counter()
  for i in range(num_steps):
    state, m = step(state, batch, jax.random.fold_in(rng, i))
  jax.block_until_ready((state, m))
  return (time.perf_counter() - t0) / num_steps


def _check(config: ml_collections.ConfigDict, num_train: int, num_test: int) -> None:
  if config.num_eval > min(num_train, num_test):
    raise ValueError(f"num_eval={config.num_eval} exceeds the train ({num_train}) or test "
                     f"({num_test}) split size.")
  if int(np.sqrt(config.grid_size)) ** 2 != config.grid_size:
    raise ValueError(f"grid_size must be a square number, got {config.grid_size}.")
  for name in config.losses:
    if name not in losses.LOSSES + ("wgan_gp",):
      raise ValueError(f"Unknown loss {name!r}; valid: {list(losses.LOSSES) + ['wgan_gp']}.")


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Trains the feature classifier and one generator per loss; writes results and figures.

  Args:
    config: ``experiments/generative/configs/fmnist.py``'s config.
    workdir: run folder (classifier and generator checkpoints live here; reruns resume).

  Returns:
    The ``results.json`` dict.
  """
  t_start = time.perf_counter()
  train_ds = wdata.load(config.dataset, "train",
                        max_examples=None if config.max_train < 0 else config.max_train)
  test_ds = wdata.load(config.dataset, "test")
  _check(config, len(train_ds), len(test_ds))
  out = pathlib.Path(workdir)
  out.mkdir(parents=True, exist_ok=True)
  image_shape = train_ds.x.shape[1:]
  dim = int(np.prod(image_shape))
  train_flat = train_ds.x.reshape(len(train_ds), dim)

  classifier, cls_info = feature_classifier(config.classifier, out / "classifier")

  # Fixed evaluation sets: num_eval test images, and num_eval train images as the reference.
  rs = np.random.default_rng(config.seed)
  test_eval = test_ds.x[rs.choice(len(test_ds), config.num_eval, replace=False)]
  train_eval = train_ds.x[rs.choice(len(train_ds), config.num_eval, replace=False)]
  test_feats = features(classifier, test_eval)
  anchors = {"real train vs real test": fid_like(features(classifier, train_eval), test_feats)}
  pixel_reference = float(losses.exact_w2(train_eval.reshape(-1, dim), test_eval.reshape(-1, dim)))
  grid_n = config.grid_size
  plot_grid(test_eval[:grid_n], out / "samples_real_test.png", "real test images")

  generator = models.ImageGenerator(num_outputs=dim, hidden=tuple(config.hidden))
  eval_key = jax.random.key(config.seed + 1)
  runs, curves, steps, states = {}, {}, {}, {}
  for li, name in enumerate(config.losses):
    step, init, _, data_per_step = common.make_step(name, config, generator=generator,
                                                    data_dim=dim)
    sampler = common.make_sampler(name, config)
    init_key = jax.random.key(config.seed)  # the same key for every loss
    state = init(init_key)

    def score(st, sampler=sampler) -> dict[str, float]:
      gen = np.asarray(sampler(eval_key, st, config.num_eval)).reshape(-1, *image_shape)
      return {"fid_like": fid_like(features(classifier, gen), test_feats),
              "pixel_w2": float(losses.exact_w2(gen.reshape(-1, dim),
                                                test_eval.reshape(-1, dim)))}

    untrained = score(state)
    if li == 0:
      # Noise and generator initialisation are shared by the OT losses; show the first.
      gen0 = np.asarray(sampler(eval_key, state, grid_n)).reshape(-1, *image_shape)
      plot_grid(gen0, out / "samples_untrained.png", "untrained generator")
    run_dir = out / name
    writer = wtrain.MetricsWriter(run_dir / "metrics.jsonl")
    jstep = jax.jit(step)
    t0 = time.perf_counter()
    with wtrain.Checkpointer(run_dir, max_to_keep=2) as ckpt:
      state, info = wtrain.train_loop(
          state, jstep,
          wtrain.EpochBatches(train_flat, data_per_step, jax.random.key(config.seed + 100 + li)),
          rng=jax.random.key(config.seed + 200), num_steps=config.num_steps, checkpointer=ckpt,
          checkpoint_every=config.checkpoint_every, writer=writer, log_every=config.log_every,
          eval_fn=score, eval_every=config.eval_every, desc=f"fmnist/{name}")
    wall = time.perf_counter() - t0
    records = writer.read()
    curve = [(0, untrained["fid_like"])] + [(r["step"], r["eval/fid_like"]) for r in records
                                             if "eval/fid_like" in r]
    final = score(state)
    gen = np.asarray(sampler(eval_key, state, grid_n)).reshape(-1, *image_shape)
    plot_grid(gen, out / f"samples_{name}.png",
              f"{name}, {config.num_steps} steps (FID-like {final['fid_like']:.3g})")
    curves[name] = curve
    steps[name] = (jstep, data_per_step)
    states[name] = state
    last_train = info["last_train"]
    runs[name] = {
        "untrained_fid_like": untrained["fid_like"], "untrained_pixel_w2": untrained["pixel_w2"],
        "fid_like": final["fid_like"], "pixel_w2": final["pixel_w2"], "fid_like_curve": curve,
        "final_train_metrics": last_train, "resumed_from_step": info["start_step"],
        "steps": info["last_step"], "data_images_per_step": data_per_step,
        "train_wall_s_this_process": wall,
    }

  # Time per step of every loss, same process, same batch size, after training (compiled):
  # rounds interleave the losses so that a burst of load on the shared machine hits all of them;
  # the minimum over rounds is reported (all rounds are kept).
  rounds = {name: [] for name in config.losses}
  tkey = jax.random.key(config.seed + 300)
  for _ in range(config.timing_rounds):
    for name in config.losses:
      jstep, data_per_step = steps[name]
      batch = jnp.asarray(train_flat[:data_per_step])
      rounds[name].append(time_step(jstep, states[name], batch, tkey, config.timing_steps))
  times = {name: min(r) for name, r in rounds.items()}
  for name in config.losses:
    runs[name]["seconds_per_step"] = times[name]
    runs[name]["seconds_per_step_rounds"] = rounds[name]
  plot_step_times(times, out / "step_time.png", config.batch_size)
  anchors_plot = dict(anchors)
  anchors_plot["untrained generator"] = runs[config.losses[0]]["untrained_fid_like"]
  plot_scores(curves, anchors_plot, out / "fid_like.png")

  results = {
      "dataset": config.dataset, "image_shape": list(image_shape), "num_train": len(train_ds),
      "num_eval": config.num_eval,
      "score": "FID-like, not FID: exact W2 (wassml.ot.emd) between penultimate-layer features "
               "of the classifier below, num_eval generated vs num_eval real test images",
      "classifier": cls_info,
      "reference_fid_like_train_vs_test": anchors["real train vs real test"],
      "reference_pixel_w2_train_vs_test": pixel_reference,
      "runs": runs,
      "seconds_per_step": times,
      "batch_size": config.batch_size,
      "wall_time_s_this_process": time.perf_counter() - t_start,
      "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
      "machine": f"{platform.machine()} {platform.node()} {jax.device_count()}x"
                 f"{jax.devices()[0].platform}",
      "jax_version": jax.__version__,
      "config": config.to_dict(),
  }
  (out / "results.json").write_text(json.dumps(results, indent=2))
  (out / "tables.md").write_text(markdown_tables(results))
  return results
