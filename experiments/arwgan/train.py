"""ARWGAN vs a plain WGAN-GP on one Fashion-MNIST class (Burnel et al.; seed 004).

1. Train a classifier (MLP, CCE) on Fashion-MNIST; only its outputs are used afterwards.
2. For the target class ``c``, weight its training images: ``uniform`` (plain WGAN), ``hard``
   (misclassified only) or ``soft`` (by margin) -- :mod:`wassml.regularization.arwgan`.
3. Fit a WGAN-GP (:mod:`wassml.generative.wgan`, critic loss :func:`wassml.ot.critic_loss`) to the
   reweighted class data (minibatches drawn by the weights). The runs of every weighting share
   shapes, so they train together as the seeds of one :func:`wassml.train.train_loop`
   (``num_seeds``; ``config.execution``: ``"auto"`` steps them one after another on CPU and
   vmaps/scans them on an accelerator).
4. Report, for ``num_eval`` generated images: the fraction the classifier does **not** assign to
   ``c`` (the attack's success), and the sliced / exact Wasserstein-2 distance to the class's real
   test images (how natural they stay). Plot a grid of generated images.

Both trainings checkpoint under ``<workdir>/checkpoints/{classifier,wgan}`` every
``checkpoint_every`` steps: a killed run restarted with the same workdir resumes and ends with the
results of an uninterrupted one (``results["resumed_from_step"]`` says where it restarted).
"""

from __future__ import annotations

import functools
import json
import os
import platform
import time
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import matplotlib
import ml_collections
import numpy as np
import optax

from wassml import data as wdata
from wassml import nn as wnn
from wassml import ot
from wassml import train as wtrain
from wassml import generative
from wassml.generative import wgan
from wassml.regularization import arwgan

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

FMNIST_NAMES = ("T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                "Bag", "Boot")


def train_classifier(config, key, x, y, num_classes, workdir=None):
  """A plain CCE MLP classifier (the model ARWGAN attacks through its outputs only).

  ``classifier_epochs`` epochs of ``classifier_batch_size`` minibatches
  (:class:`wassml.train.EpochBatches`) with :func:`wassml.train.train_loop`; with ``workdir``,
  checkpointed in ``<workdir>/checkpoints/classifier`` (a rerun restores or resumes it).

  Returns:
    ``(state, info)``: the trained state and the loop's info.
  """
  model = wnn.MLP(hidden=tuple(config.classifier_hidden), num_outputs=num_classes)
  state = wtrain.create_train_state(jax.random.fold_in(key, 0), model, x[:1],
                                    optax.adam(config.classifier_lr))
  step = wtrain.make_step(wtrain.classifier_loss(state))
  batches = wtrain.EpochBatches({"x": x, "y": y}, config.classifier_batch_size,
                                jax.random.fold_in(key, 1))
  return wtrain.run_phase(state, step, batches, workdir=workdir, name="classifier",
                          rng=jax.random.fold_in(key, 2),
                          num_steps=config.classifier_epochs * batches.steps_per_epoch,
                          checkpoint_every=config.checkpoint_every)


def fit_wgans(config, keys: jax.Array, real: np.ndarray, weights: np.ndarray, workdir=None):
  """One WGAN-GP per weighting on ``sum_i a_i delta_{real_i}``, trained together as seeds.

  Args:
    config: the experiment config.
    keys: ``[S]`` keys, one per run (initialisation, steps and minibatches).
    real: ``[n, d]`` real images of the target class.
    weights: ``[S, n]`` data weights of every run (minibatches are drawn by them,
      :func:`wassml.regularization.arwgan.weighted_batches`).
    workdir: with it, checkpoints in ``<workdir>/checkpoints/wgan`` (a rerun resumes).

  Returns:
    ``(states, info)``: the ``S`` GAN states and the loop's info (``info["last_train"][s]["w1"]``
    is run ``s``'s mean critic W1 estimate over the last ``log_every`` steps).
  """
  d = real.shape[1]
  gen = generative.ImageGenerator(num_outputs=d, hidden=tuple(config.generator_hidden),
                                  activation=functools.partial(nn.leaky_relu, negative_slope=0.2))
  crit = wnn.Critic(hidden=tuple(config.critic_hidden))
  tx = optax.adam(config.gan_lr, b1=0.5, b2=0.9)  # one object: the states stack over runs
  num = len(keys)
  states = [wgan.create_gan_state(jax.random.fold_in(k, 0), gen, crit,
                                  latent_dim=config.latent_dim, example_x=real[:1],
                                  tx_generator=tx, tx_critic=tx) for k in keys]
  step = wgan.make_wgan_step(latent_dim=config.latent_dim, n_critic=config.n_critic,
                             gp_weight=config.gp_weight)
  draw = jax.jit(functools.partial(arwgan.weighted_batches, batch_size=config.gan_batch_size,
                                   num_batches=config.n_critic))
  batch_keys = [jax.random.fold_in(k, 2) for k in keys]
  wj = [jnp.asarray(w) for w in weights]

  def batch_fn(i, s):
    """Run ``s``'s ``n_critic`` real minibatches of step ``i``, drawn by its weights."""
    return {"x": real[np.asarray(draw(jax.random.fold_in(batch_keys[s], i), wj[s]))]}

  stacked, info = wtrain.run_phase(
      wtrain.stack_states(states), step, batch_fn, workdir=workdir, name="wgan",
      rng=jnp.stack([jax.random.fold_in(k, 1) for k in keys]), num_steps=config.gan_steps,
      num_seeds=num, execution=config.execution, checkpoint_every=config.checkpoint_every,
      log_every=config.log_every)
  return wtrain.unstack_states(stacked, num), info


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Runs the classifier, the three WGAN-GPs and the evaluation; writes results.json and PNGs."""
  os.makedirs(workdir, exist_ok=True)
  t0 = time.time()
  for wname in config.weightings:
    if wname not in arwgan.WEIGHTINGS:
      raise ValueError(f"unknown weighting {wname!r}; valid: {arwgan.WEIGHTINGS}.")
  tr = wdata.load(config.dataset, "train", max_examples=config.num_train)
  te = wdata.load(config.dataset, "test", max_examples=config.num_test)
  xtr = tr.x.reshape(len(tr), -1).astype(np.float32)
  xte = te.x.reshape(len(te), -1).astype(np.float32)
  key = jax.random.key(config.seed)
  cls, cls_info = train_classifier(config, jax.random.fold_in(key, 0), xtr, tr.y,
                                   tr.num_classes, workdir)
  test_acc = wtrain.evaluate_classifier(cls, xte, te.y)["accuracy"]

  c = int(config.target_class)
  real = xtr[tr.y == c]
  real_logits = wtrain.predict(cls, real)
  real_test = xte[te.y == c]
  real_test_err = float(arwgan.misclassified_fraction(wtrain.predict(cls, real_test), c))
  results: dict[str, Any] = {
      "classifier_test_accuracy": 100 * test_acc,
      "target_class": c, "target_name": FMNIST_NAMES[c] if tr.num_classes == 10 else str(c),
      "real_train_misclassified": float(arwgan.misclassified_fraction(real_logits, c)),
      "real_test_misclassified": real_test_err,
  }
  samples = {}
  wts = np.stack([np.asarray(arwgan.misclassification_weights(
      real_logits, np.full(len(real), c), kind=wname, temperature=config.soft_temperature))
                  for wname in config.weightings])
  run_keys = jnp.stack([jax.random.fold_in(key, 10 + i) for i in range(len(config.weightings))])
  states, info = fit_wgans(config, run_keys, real, wts, workdir)
  results["resumed_from_step"] = {"classifier": cls_info["start_step"],
                                  "wgan": info["start_step"]}
  results["execution"] = info["execution"]
  for i, wname in enumerate(config.weightings):
    state = states[i]
    gen = np.asarray(wgan.generate(jax.random.fold_in(key, 100 + i), state, config.num_eval,
                                   config.latent_dim))
    glog = wtrain.predict(cls, gen)
    n_ref = min(len(real_test), config.num_eval, 500)
    ref = jnp.asarray(real_test[:n_ref])
    results[wname] = {
        "misclassified_fraction": float(arwgan.misclassified_fraction(glog, c)),
        "predicted_class_histogram": np.bincount(np.argmax(glog, -1),
                                                 minlength=tr.num_classes).tolist(),
        "sliced_w2_to_class_test": float(ot.sliced_wasserstein(
            jax.random.fold_in(key, 200), jnp.asarray(gen), jnp.asarray(real_test),
            num_projections=200)),
        "w2_to_class_test": float(ot.wasserstein(jnp.asarray(gen[:n_ref]), ref, p=2)),
        "effective_sample_size": arwgan.effective_sample_size(wts[i]),
        "final_w1_estimate": float(info["last_train"][i]["w1"]),
    }
    samples[wname] = (gen[:10], np.argmax(glog[:10], -1))
  # Reference: the distance between two halves of real data sets the scale of "natural".
  half = len(real_test) // 2
  n_ref = min(half, 500)
  results["w2_real_test_vs_real_train"] = float(ot.wasserstein(
      jnp.asarray(real[:n_ref]), jnp.asarray(real_test[:n_ref]), p=2))
  _plot_grid(samples, c, os.path.join(workdir, "generated_grid.png"), tr.x.shape[1:3])
  results["seconds"] = time.time() - t0
  results["machine"] = f"{platform.machine()} x{os.cpu_count()} CPU"
  results["config"] = config.to_dict()
  with open(os.path.join(workdir, "results.json"), "w") as f:
    json.dump(results, f, indent=1, default=lambda o: np.asarray(o).tolist())
  return results


def _plot_grid(samples, c, path, hw):
  rows = list(samples)
  fig, axes = plt.subplots(len(rows), 10, figsize=(12, 1.45 * len(rows) + 0.4), squeeze=False)
  for r, name in enumerate(rows):
    imgs, preds = samples[name]
    for j in range(10):
      ax = axes[r, j]
      ax.imshow(imgs[j].reshape(hw), cmap="gray", vmin=0, vmax=1)
      ax.set_xticks([])
      ax.set_yticks([])
      lab = FMNIST_NAMES[preds[j]] if preds[j] < 10 else str(preds[j])
      ax.set_title(lab, fontsize=7, color="red" if preds[j] != c else "black")
      if j == 0:
        ax.set_ylabel(name, fontsize=9)
  fig.suptitle(f"Generated '{FMNIST_NAMES[c]}' images per weighting (title: classifier's "
               "prediction, red = misclassified)", fontsize=9)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
