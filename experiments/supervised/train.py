"""Supervised baseline on Fashion-MNIST (the harness's example experiment).

Trains a classifier from ``wassml.nn`` with the ``wassml.train`` pieces: ``create_train_state``,
``make_step(classifier_loss(...))``, the resumable ``train_loop`` with Orbax checkpoints every
epoch, per-epoch validation with early stopping, JSONL metrics and PNG plots.
"""

from __future__ import annotations

import json
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
from wassml import nn as wnn
from wassml import train as wtrain


def build_model(config: ml_collections.ConfigDict, num_classes: int):
  """The classifier named by ``config.model``."""
  name = config.model
  if name == "small_cnn":
    return wnn.SmallCNN(num_classes=num_classes, dropout_rate=config.dropout_rate,
                        use_batchnorm=config.use_batchnorm)
  if name == "lenet5":
    return wnn.LeNet5(num_classes=num_classes)
  if name == "vgg8":
    return wnn.VGG8(num_classes=num_classes)
  if name == "digits_cnn":
    return wnn.DigitsCNN(num_classes=num_classes)
  if name == "mlp":
    return wnn.MLP(hidden=(256, 256), num_outputs=num_classes, dropout_rate=config.dropout_rate,
                   use_batchnorm=config.use_batchnorm)
  raise ValueError(f"Unknown model {name!r}; valid: ['digits_cnn', 'lenet5', 'mlp', "
                   "'small_cnn', 'vgg8'].")


def _cap(n: int) -> int | None:
  return None if n is None or n < 0 else int(n)


def _plot_confusion(cm: np.ndarray, names, path: pathlib.Path, title: str) -> None:
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, ax = plt.subplots(figsize=(6, 5))
  im = ax.imshow(cm / np.maximum(cm.sum(1, keepdims=True), 1), cmap="Blues", vmin=0, vmax=1)
  ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
  ax.set_yticks(range(len(names)), names, fontsize=7)
  ax.set_xlabel("predicted")
  ax.set_ylabel("true")
  ax.set_title(title, fontsize=9)
  fig.colorbar(im)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Trains, evaluates on the test split, writes ``results.json`` and PNGs into ``workdir``.

  A killed run resumes from its last epoch checkpoint when started again with the same workdir.
  """
  t0 = time.perf_counter()
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  full = wdata.load(config.dataset, "train", max_examples=_cap(config.max_train))
  test = wdata.load(config.dataset, "test", max_examples=_cap(config.max_test))
  if not 0 < config.num_val < len(full):
    raise ValueError(f"num_val must be in (0, {len(full)}), got {config.num_val}.")
  split_perm = np.random.default_rng(config.seed).permutation(len(full))
  val = full.take(split_perm[:config.num_val])
  train = full.take(split_perm[config.num_val:])

  key = jax.random.key(config.seed)
  k_init, k_data, k_steps = jax.random.split(key, 3)
  model = build_model(config, full.num_classes)
  steps_per_epoch = len(train) // config.batch_size  # EpochBatches drops the remainder too
  num_steps = config.epochs * steps_per_epoch
  lr = wtrain.make_schedule(config.schedule, learning_rate=config.learning_rate,
                            num_steps=num_steps)
  tx = optax.adamw(lr, weight_decay=config.weight_decay)
  state = wtrain.create_train_state(k_init, model, jnp.asarray(train.x[:1]), tx)
  step = jax.jit(wtrain.make_step(wtrain.classifier_loss(state)))

  batch_fn = wtrain.EpochBatches({"x": train.x, "y": train.y}, config.batch_size, k_data)

  def eval_fn(st) -> dict:
    return wtrain.evaluate_classifier(st, val.x, val.y, batch_size=config.eval_batch_size)

  writer = wtrain.MetricsWriter(workdir / "metrics.jsonl")
  ckpt = wtrain.Checkpointer(workdir, max_to_keep=2)  # closed below
  state, info = wtrain.train_loop(
      state, step, batch_fn, rng=k_steps, num_steps=num_steps, checkpointer=ckpt,
      checkpoint_every=steps_per_epoch, writer=writer, log_every=max(steps_per_epoch // 4, 1),
      eval_fn=eval_fn, eval_every=steps_per_epoch,
      early_stopping=wtrain.EarlyStopping(patience=config.patience, mode="min"),
      monitor="loss", execution=config.execution, desc=f"supervised {config.model}")
  ckpt.close()
  train_time = time.perf_counter() - t0

  logits = wtrain.predict(state, test.x, batch_size=config.eval_batch_size, desc="test")
  pred = np.argmax(logits, -1)
  k = full.num_classes
  cm = np.zeros((k, k), np.int64)
  np.add.at(cm, (test.y, pred), 1)
  test_ce = float(jnp.mean(optax.softmax_cross_entropy_with_integer_labels(
      jnp.asarray(logits), jnp.asarray(test.y))))
  records = writer.read()
  train_eval = wtrain.evaluate_classifier(state, train.x[:5000], train.y[:5000],
                                          batch_size=config.eval_batch_size)
  results = {
      "dataset": config.dataset,
      "model": config.model,
      "num_train": len(train),
      "num_val": len(val),
      "num_test": len(test),
      "epochs_run": info["last_step"] / steps_per_epoch,
      "steps": info["last_step"],
      "resumed_from_step": info["start_step"],
      "stopped_early": info["stopped_early"],
      "test_accuracy": float(np.mean(pred == test.y)),
      "test_loss": test_ce,
      "val_accuracy": info["last_eval"].get("accuracy"),
      "val_loss": info["last_eval"].get("loss"),
      "train_accuracy_first5000": train_eval["accuracy"],
      "per_class_test_accuracy": (np.diag(cm) / np.maximum(cm.sum(1), 1)).tolist(),
      "confusion_matrix": cm.tolist(),
      "wall_time_s": time.perf_counter() - t0,
      "train_time_s": train_time,
      "machine": f"{platform.machine()} {platform.processor() or ''} "
                 f"{jax.device_count()}x{jax.devices()[0].platform}".strip(),
      "config": config.to_dict(),
  }
  wtrain.plot_metrics(records, ["train/loss", "train/accuracy", "eval/loss", "eval/accuracy"],
                      workdir / "curves.png", title=f"{config.model} on {config.dataset}")
  names = ([n.split("/")[0] for n in wdata.fashion_mnist.CLASS_NAMES]
           if config.dataset == "fashion_mnist" else [str(i) for i in range(k)])
  _plot_confusion(cm, names, workdir / "confusion.png",
                  f"test accuracy {results['test_accuracy']:.4f}")
  (workdir / "results.json").write_text(json.dumps(results, indent=2))
  return results
