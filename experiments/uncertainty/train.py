"""Prediction with uncertainty and unsupervised feature importance (seed 000, METHODS.md §3).

Uncertainty: Fashion-MNIST with class ``held_out_class`` removed from training. Three models
share the trunk architecture: the two-head model ``F(x) = U(A(x), B(x))`` (loss with
``t ~ U(0, 1)``), a plain softmax classifier (entropy baseline) and the same with dropout
(MC-dropout baseline). The out-of-distribution AUROC tells the held-out class's test images from
the other classes' test images by each score. The top uncertain test images are plotted.

Feature importance: (a) synthetic data whose first ``num_informative`` features carry cluster
structure and the rest are noise; ``phi`` = encoder of an auto-encoder trained without labels;
precision@k of the per-feature Wasserstein derivatives and of ``|F*|`` against the truth.
(b) the Fashion-MNIST importance map ``|F*|`` as an image.

Every network (three classifiers, two auto-encoders) trains through ``wassml.train.train_loop``
on epochs of minibatches (``config.execution``) and checkpoints under
``<workdir>/checkpoints/<model>``: a killed run started again with the same workdir restores the
finished models and resumes the interrupted one.
"""

from __future__ import annotations

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

from wassml import data as wdata
from wassml import nn as wnn
from wassml import train as wtrain
from wassml.regularization import feature_importance as fi
from wassml.regularization import uncertainty as unc

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

FMNIST_NAMES = ("T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                "Bag", "Boot")


# ----------------------------------------------------------------------------- training
def _fit(state, loss_fn, x, y, *, epochs, batch_size, key, execution="auto", workdir=None,
         name="model", resumed=None):
  """``epochs`` epochs of ``loss_fn`` through :func:`wassml.train.train_loop`; checkpoints every
  epoch under ``<workdir>/checkpoints/<name>`` (a killed run resumes there; None: none)."""
  step = jax.jit(wtrain.make_step(loss_fn))
  batches = wtrain.EpochBatches({"x": x, "y": y}, batch_size, jax.random.fold_in(key, 0))
  spe = batches.steps_per_epoch
  state, info = _train(state, step, batches, rng=jax.random.fold_in(key, 1),
                       num_steps=epochs * spe, every=spe, execution=execution, workdir=workdir,
                       name=name)
  if resumed is not None:
    resumed[name] = info["start_step"]
  return state


def _train(state, step, batches, *, rng, num_steps, every, execution, workdir, name):
  """One named phase through :func:`wassml.train.run_phase` (checkpoints under ``workdir``)."""
  return wtrain.run_phase(state, step, batches, workdir=workdir, name=name, rng=rng,
                          num_steps=num_steps, execution=execution, checkpoint_every=every,
                          log_every=every)


def _two_head_loss(apply_fn, num_t):
  def loss_fn(params, batch_stats, batch, rng):
    (la, lb), _ = wtrain.apply_model(apply_fn, params, batch["x"])
    loss = unc.two_head_loss(rng, la, lb, batch["y"], num_t=num_t)
    return loss, ({}, batch_stats)
  return loss_fn


def run_uncertainty(config, key, workdir: str | None = None,
                    resumed: dict | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
  """The three models and their OOD scores; ``workdir``: where they checkpoint (None: nowhere);
  ``resumed`` gets each model's first step (0 unless it resumed from a checkpoint)."""
  tr = wdata.load(config.dataset, "train", max_examples=config.num_train)
  te = wdata.load(config.dataset, "test", max_examples=config.num_test)
  h = int(config.held_out_class)
  keep = tr.y != h
  remap = np.array([i - (i > h) for i in range(tr.num_classes)])  # classes != h -> 0..K-2
  xtr = tr.x[keep].reshape(int(keep.sum()), -1).astype(np.float32)
  ytr = remap[tr.y[keep]].astype(np.int32)
  xte = te.x.reshape(len(te), -1).astype(np.float32)
  is_ood = te.y == h
  k = tr.num_classes - 1
  tx = optax.adam(config.learning_rate)
  common = dict(epochs=config.epochs, batch_size=config.batch_size,
                execution=config.get("execution", "auto"), workdir=workdir, resumed=resumed)

  two = unc.TwoHeadClassifier(trunk=wnn.MLP(hidden=tuple(config.hidden), num_outputs=None),
                              num_classes=k)
  s_two = wtrain.create_train_state(jax.random.fold_in(key, 0), two, xtr[:1], tx)
  s_two = _fit(s_two, _two_head_loss(s_two.apply_fn, config.num_t), xtr, ytr,
               key=jax.random.fold_in(key, 1), name="two_head", **common)
  plain = wnn.MLP(hidden=tuple(config.hidden), num_outputs=k)
  s_plain = wtrain.create_train_state(jax.random.fold_in(key, 2), plain, xtr[:1], tx)
  s_plain = _fit(s_plain, wtrain.classifier_loss(s_plain), xtr, ytr,
                 key=jax.random.fold_in(key, 3), name="softmax", **common)
  drop = wnn.MLP(hidden=tuple(config.hidden), num_outputs=k, dropout_rate=config.dropout_rate)
  s_drop = wtrain.create_train_state(jax.random.fold_in(key, 4), drop, xtr[:1], tx)
  s_drop = _fit(s_drop, wtrain.classifier_loss(s_drop), xtr, ytr,
                key=jax.random.fold_in(key, 5), name="dropout", **common)

  la, lb = wtrain.predict(s_two, xte)
  p_two = np.asarray(unc.mixture_probs(la, lb))
  p_plain = np.asarray(jax.nn.softmax(wtrain.predict(s_plain, xte), -1))
  p_mc = np.asarray(unc.mc_dropout_probs(jax.random.fold_in(key, 6), drop.apply,
                                         {"params": s_drop.params}, jnp.asarray(xte),
                                         num_samples=config.mc_samples)).mean(0)
  scores = {
      "two_head_spread": np.asarray(unc.head_spread(la, lb)),
      "two_head_entropy": np.asarray(unc.entropy(p_two)),
      "softmax_entropy": np.asarray(unc.entropy(p_plain)),
      "mc_dropout_entropy": np.asarray(unc.entropy(p_mc)),
  }
  y_in = remap[te.y[~is_ood]]
  acc = {"two_head": float(np.mean(p_two[~is_ood].argmax(1) == y_in)),
         "softmax": float(np.mean(p_plain[~is_ood].argmax(1) == y_in)),
         "mc_dropout": float(np.mean(p_mc[~is_ood].argmax(1) == y_in))}
  aurocs = {n: unc.auroc(s[~is_ood], s[is_ood]) for n, s in scores.items()}
  top = np.argsort(-scores["two_head_spread"])[:config.num_top]
  extra = {"x": te.x[top], "y": te.y[top], "spread": scores["two_head_spread"][top],
           "pred": [int(np.flatnonzero(remap == p)[0]) for p in p_two[top].argmax(1)]}
  return {"ood_auroc": aurocs, "in_distribution_accuracy": acc,
          "held_out_class": FMNIST_NAMES[h] if tr.num_classes == 10 else h,
          "top_uncertain_is_held_out": float(np.mean(is_ood[top]))}, extra


# ----------------------------------------------------------------------------- importance
def _fit_autoencoder(key, x, *, latent, hidden, steps, lr=1e-3, batch=128, weight_decay=0.0,
                     execution="auto", workdir=None, name="autoencoder", resumed=None):
  """phi = encoder of an auto-encoder trained without labels (MSE + L2). The L2 term removes the
  random initial weights on inputs the data never uses (e.g. always-black pixels), on which the
  metric would otherwise stay arbitrarily sensitive. Trained by :func:`wassml.train.train_loop`
  on epochs of minibatches, checkpointing under ``<workdir>/checkpoints/<name>``."""
  ae = wnn.AutoEncoder(input_dim=x.shape[1], latent_dim=latent, hidden=tuple(hidden))
  state = wtrain.create_train_state(key, ae, x[:1], optax.adam(lr))

  def loss_fn(params, batch_stats, b, rng):
    out, _ = wtrain.apply_model(state.apply_fn, params, b["x"])
    recon = out[1]  # AutoEncoder returns (z, reconstruction)
    l2 = sum(jnp.sum(w ** 2) for w in jax.tree.leaves(params))
    return jnp.mean((recon - b["x"]) ** 2) + weight_decay * l2, ({}, batch_stats)

  batches = wtrain.EpochBatches({"x": np.asarray(x)}, min(batch, x.shape[0]),
                                jax.random.fold_in(key, 1))
  state, info = _train(state, jax.jit(wtrain.make_step(loss_fn)), batches,
                       rng=jax.random.fold_in(key, 2), num_steps=steps,
                       every=max(steps // 4, 1), execution=execution, workdir=workdir, name=name)
  if resumed is not None:
    resumed[name] = info["start_step"]
  return lambda z: ae.apply({"params": state.params}, z, method=ae.encode)


def synthetic_informative(key, *, dim, num_informative, num_samples, cluster_sep, cluster_std,
                          noise_std):
  """Features ``informative`` (random positions) carry 4 balanced clusters (every informative
  feature is bimodal at +-sep/2); the others are N(0, noise_std^2) noise."""
  rng = np.random.default_rng(int(jax.random.randint(key, (), 0, 2**31 - 1)))
  informative = np.sort(rng.choice(dim, num_informative, replace=False))
  x = rng.normal(0, noise_std, size=(num_samples, dim))
  pattern = np.stack([((np.arange(4) >> (j % 2)) & 1) * 2 - 1 for j in range(num_informative)], 1)
  centers = pattern * cluster_sep / 2  # [4, num_informative], each column has both signs
  lab = rng.integers(0, 4, num_samples)
  x[:, informative] = centers[lab] + rng.normal(0, cluster_std, size=(num_samples,
                                                                       num_informative))
  return x.astype(np.float32), informative


def run_feature_importance(config, key, workdir: str | None = None,
                           resumed: dict | None = None) -> tuple[dict[str, Any], np.ndarray]:
  """Synthetic precision@k and the Fashion-MNIST importance map (auto-encoders checkpoint under
  ``workdir``, see :func:`run_uncertainty`)."""
  c = config.fi
  common = dict(execution=config.get("execution", "auto"), workdir=workdir, resumed=resumed)
  x, informative = synthetic_informative(
      jax.random.fold_in(key, 0), dim=c.dim, num_informative=c.num_informative,
      num_samples=c.num_samples, cluster_sep=c.cluster_sep, cluster_std=c.cluster_std,
      noise_std=c.noise_std)
  phi = _fit_autoencoder(jax.random.fold_in(key, 1), x, latent=c.latent_dim, hidden=c.ae_hidden,
                         steps=c.ae_steps, name="ae_synthetic", **common)
  f_star, hist = fi.importance_direction(jax.random.fold_in(key, 2), phi, x, t=c.t,
                                         num_steps=c.ascent_steps, batch_size=c.ot_batch)
  xb = jnp.asarray(x[:c.ot_batch])
  per_feature = np.array([float(fi.directional_derivative(phi, xb, np.eye(c.dim)[i], t=c.t))
                          for i in range(c.dim)])
  first_order = np.sqrt(np.maximum(np.diag(np.asarray(fi.jacobian_gram(phi, xb))), 0))
  kk = c.num_informative
  synth = {
      "precision_at_k_first_order_per_feature": fi.precision_at_k(first_order, informative, kk),
      "informative": informative.tolist(),
      "precision_at_k_per_feature_derivative": fi.precision_at_k(per_feature, informative, kk),
      "precision_at_k_abs_F_star": fi.precision_at_k(np.abs(np.asarray(f_star)), informative, kk),
      "precision_at_k_variance_baseline": fi.precision_at_k(x.var(0), informative, kk),
      "chance_precision": kk / c.dim,
      "derivative_start_end": [float(hist[0]), float(hist[-1])],
      "per_feature_derivative": per_feature.tolist(),
  }
  tr = wdata.load(config.dataset, "train", max_examples=c.fmnist_examples)
  xf = tr.x.reshape(len(tr), -1).astype(np.float32)
  phi_f = _fit_autoencoder(jax.random.fold_in(key, 3), xf, latent=c.fmnist_latent,
                           hidden=c.fmnist_ae_hidden, steps=c.fmnist_ae_steps,
                           weight_decay=c.get("fmnist_weight_decay", 0.0),
                           name="ae_fashion_mnist", **common)
  f_img, hist_f = fi.importance_direction(jax.random.fold_in(key, 4), phi_f, xf, t=c.t,
                                          num_steps=c.fmnist_ascent_steps,
                                          batch_size=c.ot_batch)
  synth_f = {"derivative_start_end": [float(hist_f[0]), float(hist_f[-1])]}
  pixel = np.sqrt(np.maximum(np.diag(np.asarray(fi.jacobian_gram(phi_f, xf[:1000]))), 0))
  hw = tr.x.shape[1:3]
  return {"synthetic": synth, "fashion_mnist": synth_f}, (
      np.abs(np.asarray(f_img)).reshape(hw), pixel.reshape(hw), xf.mean(0).reshape(hw))


# ----------------------------------------------------------------------------- entry point
def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  os.makedirs(workdir, exist_ok=True)
  t0 = time.time()
  key = jax.random.key(config.seed)
  resumed: dict[str, int] = {}
  res, top = run_uncertainty(config, jax.random.fold_in(key, 0), workdir, resumed)
  fres, fmap = run_feature_importance(config, jax.random.fold_in(key, 1), workdir, resumed)
  res["feature_importance"] = fres
  res["resumed_from_step"] = resumed  # per model; 0: trained from its start
  _plot_top(top, os.path.join(workdir, "top_uncertain.png"), res["held_out_class"])
  _plot_importance(fmap, fres["synthetic"], os.path.join(workdir, "feature_importance.png"))
  res["seconds"] = time.time() - t0
  res["machine"] = f"{platform.machine()} x{os.cpu_count()} CPU"
  res["config"] = config.to_dict()
  with open(os.path.join(workdir, "results.json"), "w") as f:
    json.dump(res, f, indent=1, default=lambda o: np.asarray(o).tolist())
  return res


def _plot_top(top, path, held_out):
  n = len(top["y"])
  fig, axes = plt.subplots(1, n, figsize=(1.6 * n, 2.2), squeeze=False)
  for j in range(n):
    ax = axes[0, j]
    ax.imshow(np.asarray(top["x"][j]).squeeze(), cmap="gray")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"{FMNIST_NAMES[top['y'][j]]}\npred {FMNIST_NAMES[top['pred'][j]]}\n"
                 f"spread {top['spread'][j]:.2f}", fontsize=7)
  fig.suptitle(f"Top-{n} most uncertain test images (two-head spread); held-out class: "
               f"{held_out}", fontsize=9)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def _plot_importance(maps, synth, path):
  fmap, pixel, mean_img = maps
  fig, axes = plt.subplots(1, 4, figsize=(17, 3.6))
  for ax, img, title, cmap in ((axes[0], mean_img, "Fashion-MNIST mean image", "gray"),
                               (axes[1], fmap, "importance direction |F*|", "hot"),
                               (axes[2], pixel, "per-pixel ||J_phi e_i|| (first order)", "hot")):
    im = ax.imshow(img, cmap=cmap)
    fig.colorbar(im, ax=ax)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
  d = np.asarray(synth["per_feature_derivative"])
  colors = ["tab:red" if i in synth["informative"] else "tab:gray" for i in range(len(d))]
  axes[3].bar(np.arange(len(d)), d, color=colors)
  axes[3].set_title("synthetic: d/dt W along each feature (red: informative)", fontsize=9)
  axes[3].set_xlabel("feature")
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
