"""ARWGAN vs a plain WGAN-GP on one Fashion-MNIST class (Burnel et al.; seed 004).

1. Train a classifier (MLP, CCE) on Fashion-MNIST; only its outputs are used afterwards.
2. For the target class ``c``, weight its training images: ``uniform`` (plain WGAN), ``hard``
   (misclassified only) or ``soft`` (by margin) -- :mod:`wassml.regularization.arwgan`.
3. Fit a WGAN-GP (:mod:`wassml.generative.wgan`, critic loss :func:`wassml.ot.critic_loss`) to the
   reweighted class data (minibatches drawn by the weights).
4. Report, for ``num_eval`` generated images: the fraction the classifier does **not** assign to
   ``c`` (the attack's success), and the sliced / exact Wasserstein-2 distance to the class's real
   test images (how natural they stay). Plot a grid of generated images.
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
from tqdm import tqdm

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


def train_classifier(config, key, x, y, num_classes):
  """A plain CCE MLP classifier (the model ARWGAN attacks through its outputs only)."""
  model = wnn.MLP(hidden=tuple(config.classifier_hidden), num_outputs=num_classes)
  state = wtrain.create_train_state(key, model, x[:1], optax.adam(config.classifier_lr))
  step = wtrain.make_step(wtrain.classifier_loss(state))
  bs = config.classifier_batch_size
  spe = len(x) // bs
  xj, yj = jnp.asarray(x), jnp.asarray(y)

  @jax.jit
  def epoch(state, k):
    perm = jax.random.permutation(k, len(x))[:spe * bs].reshape(spe, bs)
    def body(st, i):
      return step(st, {"x": xj[perm[i]], "y": yj[perm[i]]}, jax.random.fold_in(k, i))
    return jax.lax.scan(body, state, jnp.arange(spe))[0]

  for e in range(config.classifier_epochs):
    state = epoch(state, jax.random.fold_in(key, e))
  return state


def fit_wgan(config, key, real: np.ndarray, weights: np.ndarray, progress: bool):
  """WGAN-GP on ``sum_i a_i delta_{real_i}``; returns the GAN state and the W1 estimates."""
  d = real.shape[1]
  gen = generative.ImageGenerator(num_outputs=d, hidden=tuple(config.generator_hidden),
                                  activation=functools.partial(nn.leaky_relu, negative_slope=0.2))
  crit = wnn.Critic(hidden=tuple(config.critic_hidden))
  tx = lambda: optax.adam(config.gan_lr, b1=0.5, b2=0.9)
  state = wgan.create_gan_state(jax.random.fold_in(key, 0), gen, crit,
                                latent_dim=config.latent_dim, example_x=real[:1],
                                tx_generator=tx(), tx_critic=tx())
  step = wgan.make_wgan_step(latent_dim=config.latent_dim, n_critic=config.n_critic,
                             gp_weight=config.gp_weight)
  realj, w = jnp.asarray(real), jnp.asarray(weights)
  chunk = min(100, config.gan_steps)

  @jax.jit
  def run(state, k):
    def body(st, i):
      ki = jax.random.fold_in(k, i)
      idx = arwgan.weighted_batches(jax.random.fold_in(ki, 0), w, batch_size=config.gan_batch_size,
                                    num_batches=config.n_critic)
      return step(st, {"x": realj[idx]}, jax.random.fold_in(ki, 1))
    return jax.lax.scan(body, state, jnp.arange(chunk))

  w1 = []
  for c in tqdm(range(config.gan_steps // chunk), desc="wgan", disable=not progress):
    state, m = run(state, jax.random.fold_in(key, 1 + c))
    w1.append(np.asarray(m["w1"]))
  return state, np.concatenate(w1)


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
  cls = train_classifier(config, jax.random.fold_in(key, 0), xtr, tr.y, tr.num_classes)
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
  for i, wname in enumerate(config.weightings):
    wts = np.asarray(arwgan.misclassification_weights(
        real_logits, np.full(len(real), c), kind=wname, temperature=config.soft_temperature))
    state, w1 = fit_wgan(config, jax.random.fold_in(key, 10 + i), real, wts, config.progress)
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
        "effective_sample_size": arwgan.effective_sample_size(wts),
        "final_w1_estimate": float(np.mean(w1[-20:])),
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
