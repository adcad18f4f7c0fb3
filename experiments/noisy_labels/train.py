"""CCE vs VAT vs WAR under label noise (Fatras et al., 2021; seed 004, METHODS.md §3).

Protocol (per noise setting, ``config.num_seeds`` seeds trained together by
``wassml.train.train_loop``, ``config.execution``; each phase checkpoints under
``<workdir>/<setting>/checkpoints/<phase>``, so a killed run started again resumes where it
stopped):

1. corrupt the training labels with ``wassml.data.add_label_noise`` (seeded; realised rate kept);
2. warm-up: ``config.warmup_epochs`` epochs of plain CCE (``beta = 0``, the reference code's
   warm-up), shared by the three methods;
3. WAR's ground cost: from the warm-up model (``config.ground_cost = "confusion"``: the label-free
   soft confusion ``P^T P`` of its predictions on the training inputs, so classes it hesitates
   between get a high cost), ``"embedding"`` (the paper's choice: cosine similarity of class-name
   embeddings, ``data/<dataset>_class_names_minilm.json`` from ``class_embeddings.py``), or
   ``"uniform"`` (0/1);
4. each method trains on for the remaining epochs; the test accuracy (clean test labels) after the
   **last** epoch is reported -- no early stopping on clean data.

Writes ``results.json`` (``cce``, ``vat``, ``war``: mean test accuracy in % on the first noise
setting; ``settings``: every setting with per-seed numbers) and PNGs: learning curves, the
regularisation value on the 3-class simplex (KL vs OT) and decision boundaries on noisy two moons.
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
from wassml import regularization as reg
from wassml import train as wtrain

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

METHODS = ("cce", "vat", "war")


# ----------------------------------------------------------------------------- data and model
def _load(config) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
  kwargs = dict(config.get("dataset_kwargs", {}) or {})
  if config.get("eval_split", "test") == "validation":
    # Hyper-parameter selection: evaluate on the last `num_test` training images (clean labels),
    # never on the test set.
    full = wdata.load(config.dataset, "train", **kwargs)
    if config.num_train + config.num_test > len(full):
      raise ValueError("num_train + num_test exceeds the training set for eval_split='validation'.")
    train, test = full.head(config.num_train), full.take(np.arange(len(full) - config.num_test,
                                                                   len(full)))
  else:
    train = wdata.load(config.dataset, "train", max_examples=config.num_train, **kwargs)
    test = wdata.load(config.dataset, "test", max_examples=config.num_test, **kwargs)
  xtr, xte = train.x.astype(np.float32), test.x.astype(np.float32)
  if config.model == "mlp":
    xtr, xte = xtr.reshape(len(xtr), -1), xte.reshape(len(xte), -1)
  return xtr, train.y.astype(np.int32), xte, test.y.astype(np.int32), train.num_classes


def build_model(config, num_classes: int) -> nn.Module:
  """The classifier: ``wassml.nn.MLP`` or ``wassml.nn.SmallCNN``."""
  from wassml import nn as wnn  # pylint: disable=g-import-not-at-top
  if config.model == "mlp":
    return wnn.MLP(hidden=tuple(config.hidden), num_outputs=num_classes)
  if config.model == "small_cnn":
    return wnn.SmallCNN(num_classes=num_classes)
  raise ValueError(f"unknown model {config.model!r}; valid: 'mlp', 'small_cnn'.")


def _logits(model, params, x):
  return model.apply({"params": params}, x, train=False)


# ----------------------------------------------------------------------------- training
def _lr_schedule(config, steps_per_epoch: int):
  bounds = {int(f * config.num_epochs) * steps_per_epoch: 0.1 for f in config.lr_decay_at}
  return optax.piecewise_constant_schedule(config.learning_rate, bounds)


def per_method(value, method: str) -> float:
  """A setting given as one float for every method or a per-method mapping (``{"vat": .., ..}``)."""
  return float(value[method]) if hasattr(value, "keys") else float(value)


def method_beta(config, method: str) -> float:
  """``config.beta`` of a method (see :func:`per_method`); 0 for CCE."""
  return 0.0 if method == "cce" else per_method(config.beta, method)


def method_radius(config, method: str) -> float:
  """``config.radius`` of a method (see :func:`per_method`); unused by CCE."""
  return 1.0 if method == "cce" else per_method(config.radius, method)


def label_ot_mode(config) -> str:
  """WAR's Sinkhorn domain: ``"kernel"`` when it is safe for every ground cost used here.

  The costs of :func:`_warmup_cost` (uniform, confusion) lie in ``[0, 1]`` by construction, so
  ``max C / epsilon <= 1 / epsilon``; the kernel domain is safe (and ~10x faster on 10 x 10 label
  problems than the log domain) when that is below the float32 bound. The cost is traced (one
  per seed), so ``"auto"`` would run both domains under ``vmap``; the choice is made here, from
  the static bound.
  """
  from wassml.ot.sinkhorn import kernel_safe_ratio  # pylint: disable=g-import-not-at-top
  mode = config.get("label_ot_mode", "bounded")
  if mode != "bounded":
    return mode
  return "kernel" if 1.0 / config.epsilon < kernel_safe_ratio(jnp.float32) else "log"


def make_step(model, config, method: str, warmup_steps: int):
  """``step(state, batch, rng) -> (state, metrics)`` for one method (``batch``: x, y, cost).

  The loss is :func:`wassml.regularization.regularized_loss` with the method's divergence; the
  step is :func:`wassml.train.make_step`'s, with ``beta`` from the warm-up schedule at
  ``state.step``.
  """

  def loss_fn(params, batch_stats, batch, rng):
    div = reg.make_divergence(method, cost=batch.get("cost"), epsilon=config.epsilon,
                              num_iters=config.sinkhorn_iters,
                              debiased=bool(config.get("war_debiased", False)),
                              mode=label_ot_mode(config))
    loss, metrics = reg.regularized_loss(
        rng, functools.partial(_logits, model, params), batch["x"], batch["y"],
        divergence=div, beta=batch["beta"], xi=config.xi, num_iters=config.power_iters,
        radius=method_radius(config, method))
    return loss, (metrics, batch_stats)

  inner = wtrain.make_step(loss_fn)

  def step(state, batch, rng):
    beta = reg.beta_schedule(state.step, beta=method_beta(config, method),
                             warmup_steps=warmup_steps, kind=config.beta_schedule)
    return inner(state, {**batch, "beta": beta}, rng)

  return step


def _accuracy(model, params, x, y, chunk: int = 2000):
  n = len(x)
  correct = 0
  for s in range(0, n, chunk):  # static python loop over a few chunks
    correct = correct + jnp.sum(jnp.argmax(_logits(model, params, x[s:s + chunk]), -1)
                                == y[s:s + chunk])
  return 100.0 * correct / n


def _epoch_means(records: list[dict], num_seeds: int, num_epochs: int) -> dict[str, np.ndarray]:
  """``{metric: [S, num_epochs]}``: the per-epoch train means the loop logged (``train/<m>``)."""
  out: dict[str, list[list[float]]] = {}
  for r in sorted(records, key=lambda r: r["step"]):
    for k, v in r.items():
      if k.startswith("train/"):
        per_seed = out.setdefault(k[len("train/"):], [[] for _ in range(num_seeds)])
        per_seed[int(r.get("seed", 0))].append(float(v))
  return {k: np.asarray(v, np.float64).reshape(num_seeds, num_epochs) for k, v in out.items()}


def train_phase(state, step, batches, *, config, num_epochs: int, steps_per_epoch: int,
                rng: jax.Array, eval_fn, workdir: str | None = None, name: str = "phase"):
  """``num_epochs`` epochs of ``step`` for every seed, through :func:`wassml.train.train_loop`.

  The seeds train together (``num_seeds``, ``config.execution``); ``eval_fn(state, s) ->
  {"acc": ..}`` runs after every epoch and the mean train metrics of every epoch are logged.

  Args:
    state: the per-seed states stacked on a leading axis (:func:`wassml.train.stack_states`).
    step: ``step(state, batch, rng) -> (state, metrics)`` (:func:`make_step`, jitted or not).
    batches: ``batch_fn(i, s)`` (e.g. a :class:`wassml.train.EpochBatches` with one key per seed).
    config: the experiment config (``execution``, ``checkpoint_every_epochs``).
    num_epochs: epochs of this phase.
    steps_per_epoch: steps per epoch.
    rng: ``[S]`` step keys.
    eval_fn: ``eval_fn(state, s) -> {"acc": test accuracy in %}``.
    workdir: the setting's folder: checkpoints go to ``checkpoints/<name>`` (a killed run resumes
      there) and the per-epoch train means to ``metrics/<name>.jsonl``; None: no checkpoints.
    name: the phase's name.

  Returns:
    ``(state, acc [S, num_epochs], {metric: [S, num_epochs]} train means, info)`` with
    ``info`` from :func:`wassml.train.train_loop`.
  """
  s = int(jnp.shape(rng)[0])
  num_steps = num_epochs * steps_per_epoch
  every = int(config.get("checkpoint_every_epochs", 1)) * steps_per_epoch
  state, info = wtrain.run_phase(
      state, step, batches, workdir=workdir, name=name, rng=rng, num_steps=num_steps,
      num_seeds=s, execution=config.get("execution", "auto"), checkpoint_every=every,
      log_every=steps_per_epoch, eval_fn=eval_fn, eval_every=steps_per_epoch,
      desc=f"noisy_labels {name}")
  records = info["records"]
  acc = np.asarray([[h["acc"] for h in hist] for hist in info["history"]], np.float64)
  return state, acc.reshape(s, num_epochs), _epoch_means(records, s, num_epochs), info


def _warmup_cost(model, config, params, x_train, num_classes):
  """WAR ground cost from the warm-up model (traceable; vmapped over seeds)."""
  if config.ground_cost == "uniform":
    return reg.uniform_ground_cost(num_classes)
  if config.ground_cost == "confusion":
    n = min(len(x_train), config.cost_examples)
    probs = jax.nn.softmax(_logits(model, params, x_train[:n]), -1)
    return reg.confusion_ground_cost(reg.soft_confusion(probs), floor=config.cost_floor)
  if config.ground_cost == "embedding":
    return reg.embedding_ground_cost(load_class_embeddings(config, num_classes),
                                     floor=config.cost_floor)
  raise ValueError(f"unknown ground_cost {config.ground_cost!r}; valid: 'uniform', 'confusion', "
                   "'embedding'.")


def load_class_embeddings(config, num_classes: int) -> np.ndarray:
  """``[K, d]`` class-name vectors from ``config.class_embeddings`` (a JSON file written by
  ``class_embeddings.py``; relative paths are taken from the repository root)."""
  path = config.get("class_embeddings") or os.path.join(
      os.path.dirname(os.path.abspath(__file__)), "data",
      f"{config.dataset}_class_names_minilm.json")
  if not os.path.isabs(path) and not os.path.exists(path):
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), path)
  if not os.path.exists(path):
    raise FileNotFoundError(
        f"class embeddings {path!r} not found; ground_cost='embedding' needs the [K, d] "
        "class-name vectors written by experiments/noisy_labels/class_embeddings.py.")
  with open(path) as f:
    emb = np.asarray(json.load(f)["embeddings"], np.float64)
  if emb.shape[0] != num_classes:
    raise ValueError(f"{path}: {emb.shape[0]} class embeddings for {num_classes} classes.")
  return emb


def run_setting(config, kind: str, rate: float, xtr, ytr, xte, yte, num_classes,
                progress: tqdm | None = None, phases: dict | None = None,
                workdir: str | None = None) -> dict[str, Any]:
  """Trains CCE, VAT and WAR on one noise setting for every seed; returns the per-seed curves.

  One :func:`train_phase` (one :func:`wassml.train.train_loop` over the stacked seeds) for the
  shared CCE warm-up, then WAR's ground cost from the warm-up models, then one phase per method
  from the warm-up states. ``phases`` caches the model, optimiser, jitted steps and evaluation
  across settings (same shapes: compiled once). ``workdir`` (the setting's folder) holds every
  phase's checkpoints: a killed run started again resumes where it stopped (None: no checkpoints).
  """
  phases = {} if phases is None else phases
  s = config.num_seeds
  bs = config.batch_size
  spe = len(xtr) // bs
  warm_epochs = int(config.warmup_epochs)
  rest = int(config.num_epochs) - warm_epochs
  warmup_steps = warm_epochs * spe
  if "model" not in phases:
    phases["model"] = build_model(config, num_classes)
    phases["tx"] = optax.adam(_lr_schedule(config, spe))
    phases["accuracy"] = jax.jit(functools.partial(_accuracy, phases["model"]))
  model, tx = phases["model"], phases["tx"]

  def get_step(method):
    if method not in phases:
      phases[method] = jax.jit(make_step(model, config, method, warmup_steps))
    return phases[method]

  base = jax.random.key(config.seed)
  seed_keys = [jax.random.fold_in(base, i) for i in range(s)]

  noisy, realised = [], []
  for k in seed_keys:
    yn, r = wdata.add_label_noise(jax.random.fold_in(k, 1), ytr, rate=rate, kind=kind,
                                  num_classes=num_classes)
    noisy.append(np.asarray(yn))
    realised.append(r)
  data = {"x": np.asarray(xtr), "y": np.stack(noisy)}  # [n, ...] inputs, [S, n] noisy labels

  def init(k):
    params = model.init(jax.random.fold_in(k, 2), jnp.asarray(xtr[:1]), train=False)["params"]
    return wtrain.TrainState.create(apply_fn=model.apply, params=params, tx=tx)
  state = wtrain.stack_states([init(k) for k in seed_keys])

  xte_j, yte_j = jnp.asarray(xte), jnp.asarray(yte)
  acc_fn = phases["accuracy"]

  def eval_fn(st, seed):
    del seed
    return {"acc": acc_fn(st.params, xte_j, yte_j)}

  def phase_keys(tag):
    """``[S]`` batch keys and ``[S]`` step keys of a phase."""
    keys = [jax.random.fold_in(k, tag) for k in seed_keys]
    return (jnp.stack([jax.random.fold_in(k, 0) for k in keys]),
            jnp.stack([jax.random.fold_in(k, 1) for k in keys]))

  run = functools.partial(train_phase, config=config, steps_per_epoch=spe, eval_fn=eval_fn,
                          workdir=workdir)
  curves: dict[str, list] = {}
  starts: dict[str, int] = {}
  warm_curve = np.zeros((s, 0))
  if warm_epochs > 0:
    batch_keys, step_keys = phase_keys(3)
    batches = wtrain.EpochBatches(data, bs, batch_keys, per_seed=("y",))
    state, warm_curve, _, info = run(state, get_step("cce"), batches, num_epochs=warm_epochs,
                                     rng=step_keys, name="warmup")
    starts["warmup"] = info["start_step"]
    if progress is not None:
      progress.update(1)
  cost = jax.vmap(lambda p: _warmup_cost(model, config, p, jnp.asarray(xtr), num_classes))(
      state.params)
  cost = np.asarray(jnp.broadcast_to(cost, (s, num_classes, num_classes)))
  out: dict[str, Any] = {"realised_noise_rate": realised, "ground_cost": cost[0].tolist()}
  for method in config.methods:
    batch_keys, step_keys = phase_keys(10 + METHODS.index(method))
    batches = wtrain.EpochBatches(data, bs, batch_keys, per_seed=("y",))

    def batch_fn(i, seed, batches=batches):
      return {**batches(i, seed), "cost": cost[seed]}

    _, acc, metrics, info = run(state, get_step(method), batch_fn, num_epochs=rest,
                                rng=step_keys, name=method)
    starts[method] = info["start_step"]
    acc = np.concatenate([warm_curve, acc], axis=1)
    curves[method] = acc
    final = acc[:, -1]
    out[method] = {"mean": float(final.mean()), "std": float(final.std()),
                   "per_seed": final.tolist(), "curve_mean": acc.mean(0).tolist(),
                   "final_reg": float(metrics["reg"][:, -1].mean()),
                   # Accuracy on the noisy training labels (mean over each epoch's batches,
                   # after the warm-up): above 1 - noise rate means the noise is fitted.
                   "train_acc_noisy_curve": (100.0 * metrics["acc_noisy"].mean(0)).tolist()}
    if progress is not None:
      progress.update(1)
  out["resumed_from_step"] = starts  # 0: the phase ran from its start
  return out


# ----------------------------------------------------------------------------- plots
def plot_curves(settings: dict[str, Any], path: str, warmup_epochs: int) -> None:
  names = list(settings)
  fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
  for ax, name in zip(axes[0], names):
    for m in METHODS:
      if m in settings[name]:
        c = settings[name][m]["curve_mean"]
        ax.plot(np.arange(1, len(c) + 1), c, label=m.upper())
    ax.axvline(warmup_epochs + 0.5, color="gray", ls=":", lw=1)
    ax.set_title(name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def plot_simplex(path: str, *, epsilon: float = 0.05, num_iters: int = 100,
                 resolution: int = 60) -> None:
  """Regularisation value ``D(p̂, q)`` over the 3-class simplex: KL vs OT (uniform / structured C).

  ``p̂`` is a fixed confident prediction of class 0; in the structured cost classes 0 and 1 are
  close (cost 1) and class 2 is far (cost 0.2), so moving mass from 0 to 1 is what OT penalises.
  """
  from wassml import ot  # pylint: disable=g-import-not-at-top
  grid = []
  for i in range(resolution + 1):
    for j in range(resolution + 1 - i):
      grid.append((i, j, resolution - i - j))
  q = np.asarray(grid, np.float32) / resolution
  q = np.clip(q, 1e-4, None)
  q /= q.sum(1, keepdims=True)
  p = np.tile(np.array([[0.8, 0.1, 0.1]], np.float32), (len(q), 1))
  structured = np.array([[0, 1.0, 0.2], [1.0, 0, 0.2], [0.2, 0.2, 0]], np.float32)
  panels = [
      ("KL (VAT)", np.asarray(reg.kl_divergence(p, np.log(q)))),
      ("OT, uniform C (WAR)", np.asarray(ot.label_ot(
          p, q, reg.uniform_ground_cost(3), epsilon=epsilon, num_iters=num_iters))),
      ("OT, C(0,1)=1, C(.,2)=0.2 (WAR)", np.asarray(ot.label_ot(
          p, q, structured, epsilon=epsilon, num_iters=num_iters))),
  ]
  corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3) / 2]])
  xy = q @ corners
  pxy = p[0] @ corners
  fig, axes = plt.subplots(1, 3, figsize=(13, 4))
  for ax, (title, val) in zip(axes, panels):
    t = ax.tricontourf(xy[:, 0], xy[:, 1], val, levels=20, cmap="viridis")
    fig.colorbar(t, ax=ax)
    ax.plot(*pxy, "r*", ms=12)
    for k, c in enumerate(corners):
      ax.annotate(f"class {k}", c, ha="center", va="top" if k < 2 else "bottom")
    ax.set_title(title, pad=22)
    ax.set_aspect("equal")
    ax.axis("off")
  fig.suptitle("Regularisation value D(p̂, q) on the probability simplex (red star: p̂)")
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def plot_moons(config, path: str) -> dict[str, float]:
  """Decision boundaries of CCE / VAT / WAR on noisy two moons; returns their clean test acc."""
  mc = config.moons
  train = wdata.load("moons", "train", n_per_class=mc.n_per_class, noise=mc.noise, seed=0)
  test = wdata.load("moons", "test", n_per_class=500, noise=mc.noise, seed=0)
  key = jax.random.key(mc.seed)
  y_noisy, _ = wdata.add_label_noise(jax.random.fold_in(key, 0), train.y, rate=mc.rate,
                                     kind="symmetric", num_classes=2)
  mconf = ml_collections.ConfigDict(dict(
      model="mlp", hidden=tuple(mc.hidden), beta=mc.beta, radius=mc.radius, xi=1e-3,
      beta_schedule="step", power_iters=1, epsilon=config.epsilon,
      sinkhorn_iters=config.sinkhorn_iters))
  model = build_model(mconf, 2)
  x = jnp.asarray(train.x, jnp.float32)
  y = jnp.asarray(y_noisy)
  cost = reg.uniform_ground_cost(2)
  xx, yy = np.meshgrid(np.linspace(-1.6, 2.6, 200), np.linspace(-1.2, 1.7, 200))
  grid = jnp.asarray(np.stack([xx.ravel(), yy.ravel()], 1), jnp.float32)
  fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
  accs = {}
  for ax, method in zip(axes, METHODS):
    params = model.init(jax.random.fold_in(key, 1), x[:1], train=False)["params"]
    state = wtrain.TrainState.create(apply_fn=model.apply, params=params,
                                          tx=optax.adam(mc.learning_rate))
    step = jax.jit(make_step(model, mconf, method, warmup_steps=mc.warmup_steps))
    batch = {"x": x, "y": y, "cost": cost}  # full batch
    state, _ = wtrain.train_loop(state, step, lambda i: batch, rng=jax.random.fold_in(key, 100),
                                 num_steps=mc.steps, execution=config.get("execution", "auto"),
                                 log_every=mc.steps, desc=f"moons {method}")
    prob = jax.nn.softmax(_logits(model, state.params, grid), -1)[:, 1].reshape(xx.shape)
    accs[method] = float(_accuracy(model, state.params, jnp.asarray(test.x, jnp.float32),
                                   jnp.asarray(test.y)))
    ax.contourf(xx, yy, np.asarray(prob), levels=20, cmap="RdBu_r", alpha=0.6)
    ax.contour(xx, yy, np.asarray(prob), levels=[0.5], colors="k")
    ax.scatter(train.x[:, 0], train.x[:, 1], c=np.asarray(y_noisy), cmap="RdBu_r", s=6,
               edgecolors="none")
    ax.set_title(f"{method.upper()} (clean test acc {accs[method]:.1f}%)")
  fig.suptitle(f"Noisy two moons ({int(100 * mc.rate)}% symmetric label noise)")
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return accs


# ----------------------------------------------------------------------------- entry point
def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Runs every noise setting and method; writes ``results.json`` and PNGs into ``workdir``."""
  os.makedirs(workdir, exist_ok=True)
  t0 = time.time()
  for m in config.methods:
    if m not in METHODS:
      raise ValueError(f"unknown method {m!r}; valid: {METHODS}.")
  xtr, ytr, xte, yte, k = _load(config)
  settings: dict[str, Any] = {}
  phases: dict = {}
  total = len(config.noise) * (len(config.methods) + (config.warmup_epochs > 0))
  results: dict[str, Any] = {}

  def write(complete: bool) -> None:
    first = next(iter(settings.values()))
    for m in config.methods:
      results[m] = first[m]["mean"]
    results["settings"] = settings
    results["complete"] = complete
    results["seconds"] = time.time() - t0
    results["machine"] = f"{platform.machine()} {platform.processor() or ''} x{os.cpu_count()} CPU"
    results["jax_backend"] = jax.default_backend()
    results["config"] = config.to_dict()
    with open(os.path.join(workdir, "results.json"), "w") as f:
      json.dump(results, f, indent=1, default=lambda o: np.asarray(o).tolist())

  with tqdm(total=total, desc="noisy_labels", disable=not config.get("progress", True)) as bar:
    for kind, rate in config.noise:
      name = f"{kind}_{int(round(100 * rate))}"
      settings[name] = run_setting(config, kind, float(rate), xtr, ytr, xte, yte, k, bar,
                                   phases=phases, workdir=os.path.join(workdir, name))
      write(complete=False)  # a run stopped later keeps its finished settings
  plot_curves(settings, os.path.join(workdir, "learning_curves.png"), config.warmup_epochs)
  if config.plots.simplex:
    plot_simplex(os.path.join(workdir, "simplex_kl_vs_ot.png"), epsilon=config.epsilon)
  if config.plots.moons:
    results["moons_test_acc"] = plot_moons(config, os.path.join(workdir, "moons_boundaries.png"))
  write(complete=True)
  return results
