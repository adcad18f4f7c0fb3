r"""Training speed on the path users take: wassml's training loop against PyTorch, side by side.

Rows (``results.json``), each measured in this one process with the rounds interleaved (wassml,
then the reference, then wassml again ...), reporting medians:

- ``smallcnn_cce_epoch`` / ``smallcnn_vat_epoch``: one epoch of Fashion-MNIST (60,000 images,
  batch 128, 468 steps, Adam 1e-3) with the SmallCNN of the noisy-labels experiment (Conv32 -
  pool - Conv64 - pool - Dense128 - Dense10, no batch norm, no dropout), cross-entropy, and
  cross-entropy + VAT (one power iteration, xi 1e-2, radius 8, beta 1: ``configs/cpu_v6``).
  wassml: ``wassml.train.train_loop`` with ``wassml.train.EpochBatches`` at its defaults
  (``execution="auto"``), the loss from ``wassml.train.classifier_loss`` /
  ``wassml.regularization.regularized_loss``. PyTorch: the same network and loss in
  ``torch_models.py``, a permuted index per epoch, ``torch.optim.Adam``.
- ``jumbot_step``: one JUMBOT step at the reference settings (DigitsCNN, 500 source + 500 target
  32x32x3 images, eta1 = eta2 = 0.1, tau = 1, eps = 0.1). wassml: ``make_da_step("jumbot")``
  (the plan solved on device inside the jitted step). Reference design: the PyTorch DigitsCNN,
  the cost sent to the host and POT's ``sinkhorn_knopp_unbalanced`` at its defaults.
- ``executions``: 3 seeds x ``--exec_steps`` SmallCNN steps through ``train_loop`` with
  ``execution="host"``, ``"vmap"`` and ``"scan"`` (what ``"auto"`` chooses between).
- ``memory``: peak resident memory (``VmHWM`` of a fresh child process) of one wassml SmallCNN
  epoch, of a 3-seed SmallCNN run vmapped over the seeds, and of one PyTorch epoch.
- ``conv_layer``: the SmallCNN's 14x14 32->64 convolution piece by piece: forward, input
  gradient, kernel gradient (``lax`` and ``wassml.nn.conv``), and forward + both gradients in
  wassml and in PyTorch (``ratio``).
- ``cnn_probe_speedup``: ``experiments/noisy_labels/results/cnn_probe``'s VAT point (574 s on
  the old ``jit(vmap(scan(scan(step))))`` path) rerun on the current loop, as a child process
  with the same command; 574 s divided by its wall time.

Threads: XLA:CPU uses its default intra-op pool (every core); PyTorch is set to the same number
of threads (``torch.set_num_threads(os.cpu_count())``). Both are recorded in ``meta``.

PyTorch is a benchmark-only extra: ``make bench-train`` installs it (``torch==2.13.0``, the CPU
build) and runs this; ``make test`` never needs it.

Writes ``results.json`` and ``README.md`` (its tables generated from the JSON, then the
hand-written reading in ``analysis.md``); ``--rows=`` (none) only rewrites the README.

Usage:
  python -m experiments.bench_train.main --workdir=experiments/bench_train/results/cpu
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from absl import app, flags

FLAGS = flags.FLAGS
ROWS = ("smallcnn_cce_epoch", "smallcnn_vat_epoch", "jumbot_step", "executions", "memory",
        "cnn_probe_speedup", "profile", "conv_layer")
CNN_PROBE_OLD_S = 574.0
VAT = dict(beta=1.0, xi=1e-2, radius=8.0)
JUMBOT = dict(eta1=0.1, eta2=0.1, rho=1.0, epsilon=0.1)
DATA = {"images": "fashion_mnist"}  # set from --data in main()


# ----------------------------------------------------------------------------- wassml side
def fashion_mnist(max_examples=None):
  """Fashion-MNIST's train split, or random images of its shape with ``--data=random``."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  if DATA["images"] == "random":
    n = 60000 if max_examples is None else max_examples
    rng = np.random.default_rng(0)
    return (rng.uniform(size=(n, 28, 28, 1)).astype(np.float32),
            rng.integers(0, 10, n).astype(np.int32))
  from wassml import data as wdata  # pylint: disable=g-import-not-at-top
  ds = wdata.load("fashion_mnist", "train", max_examples=max_examples)
  return ds.x.astype("float32"), ds.y.astype("int32")


def have_torch() -> bool:
  try:
    import torch  # pylint: disable=g-import-not-at-top,unused-import
    return True
  except ImportError:
    return False


def wassml_classifier(x, y, *, vat: bool, batch_size=128, seed=0, num_seeds=None):
  """``(state, step, batches)`` of the SmallCNN with CCE or CCE + VAT, as a user writes it."""
  import functools  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import optax  # pylint: disable=g-import-not-at-top
  from wassml import nn as wnn  # pylint: disable=g-import-not-at-top
  from wassml import regularization as reg  # pylint: disable=g-import-not-at-top
  from wassml import train as wtrain  # pylint: disable=g-import-not-at-top

  model = wnn.SmallCNN(num_classes=10)
  tx = optax.adam(1e-3)
  keys = jax.random.split(jax.random.key(seed), num_seeds or 1)
  states = [wtrain.create_train_state(k, model, jnp.zeros((1,) + x.shape[1:]), tx) for k in keys]
  if vat:
    div = reg.make_divergence("vat")

    def loss_fn(params, batch_stats, batch, rng):
      logits_fn = functools.partial(lambda p, u: model.apply({"params": p}, u), params)
      loss, metrics = reg.regularized_loss(rng, logits_fn, batch["x"], batch["y"], divergence=div,
                                           beta=VAT["beta"], xi=VAT["xi"], num_iters=1,
                                           radius=VAT["radius"])
      return loss, (metrics, batch_stats)
  else:
    loss_fn = wtrain.classifier_loss(states[0])
  step = jax.jit(wtrain.make_step(loss_fn))
  data_keys = jax.random.split(jax.random.key(seed + 1), num_seeds) if num_seeds else \
      jax.random.key(seed + 1)
  batches = wtrain.EpochBatches({"x": x, "y": y}, batch_size, data_keys)
  state = wtrain.stack_states(states) if num_seeds else states[0]
  return state, step, batches


def wassml_run(state, step, batches, num_steps, *, num_seeds=None, execution="auto", seed=2):
  import jax  # pylint: disable=g-import-not-at-top
  from wassml import train as wtrain  # pylint: disable=g-import-not-at-top
  rng = (jax.random.split(jax.random.key(seed), num_seeds) if num_seeds else jax.random.key(seed))
  out, info = wtrain.train_loop(state, step, batches, rng=rng, num_steps=num_steps,
                                num_seeds=num_seeds, execution=execution, log_every=10**9)
  jax.block_until_ready(out.params)
  return out, info


# ----------------------------------------------------------------------------- PyTorch side
def torch_setup():
  import torch  # pylint: disable=g-import-not-at-top
  torch.set_num_threads(os.cpu_count() or 1)
  torch.manual_seed(0)
  return torch


def torch_epoch(torch, model, opt, xt, yt, *, vat: bool, batch_size=128, num_steps=None):
  from experiments.bench_train import torch_models as tm  # pylint: disable=g-import-not-at-top
  n = len(xt)
  steps = n // batch_size if num_steps is None else num_steps
  perm = torch.randperm(n)
  v = (VAT["beta"], VAT["xi"], VAT["radius"]) if vat else None
  for i in range(steps):
    idx = perm[i * batch_size:(i + 1) * batch_size]
    loss = tm.classifier_step(model, opt, xt[idx], yt[idx], vat=v)
  return float(loss)


def _median(ts):
  return float(statistics.median(ts))


def bench_epoch(vat: bool, rounds: int, max_examples=None) -> dict:
  """One epoch in wassml and in PyTorch, interleaved ``rounds`` times (after a warm-up)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  x, y = fashion_mnist(max_examples)
  torch = torch_setup() if have_torch() else None
  state, step, batches = wassml_classifier(x, y, vat=vat)
  steps = batches.steps_per_epoch
  t0 = time.perf_counter()
  wassml_run(state, step, batches, 2)
  compile_s = time.perf_counter() - t0
  if torch is not None:
    from experiments.bench_train import torch_models as tm  # pylint: disable=g-import-not-at-top
    tmodel = tm.SmallCNN()
    opt = torch.optim.Adam(tmodel.parameters(), 1e-3)
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    yt = torch.from_numpy(y.astype(np.int64))
    torch_epoch(torch, tmodel, opt, xt, yt, vat=vat, num_steps=2)
  ws, ts = [], []
  for _ in range(rounds):
    t0 = time.perf_counter()
    _, info = wassml_run(state, step, batches, steps)
    ws.append(time.perf_counter() - t0)
    if torch is not None:
      t0 = time.perf_counter()
      torch_epoch(torch, tmodel, opt, xt, yt, vat=vat)
      ts.append(time.perf_counter() - t0)
    print(f"  {'vat' if vat else 'cce'} epoch: wassml {ws[-1]:.2f} s, torch "
          f"{ts[-1] if ts else float('nan'):.2f} s", flush=True)
  w, t = _median(ws), (_median(ts) if ts else None)
  return {"wassml_s": w, "torch_s": t, "ratio": w / t if t else None, "wassml_runs_s": ws,
          "torch_runs_s": ts, "data": DATA["images"],
          "wassml_compile_s": compile_s, "steps": steps, "images": steps * 128,
          "execution": info["execution"], "batch_size": 128}


def bench_jumbot(rounds: int, steps: int) -> dict:
  """The JUMBOT step, wassml against the PyTorch model + POT on the host."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  import optax  # pylint: disable=g-import-not-at-top
  import ot  # pylint: disable=g-import-not-at-top
  from wassml import domain_adaptation as da  # pylint: disable=g-import-not-at-top
  from wassml import nn as wnn  # pylint: disable=g-import-not-at-top
  from wassml import train as wtrain  # pylint: disable=g-import-not-at-top
  torch = torch_setup() if have_torch() else None
  rng = np.random.default_rng(0)
  n = 500
  xs = rng.uniform(size=(n, 32, 32, 3)).astype(np.float32)
  xt = rng.uniform(size=(n, 32, 32, 3)).astype(np.float32)
  ys = np.repeat(np.arange(10), n // 10).astype(np.int32)
  model = da.DAModel(wnn.DigitsCNN(num_classes=10))
  state = wtrain.create_train_state(jax.random.key(0), model, jnp.zeros((1, 32, 32, 3)),
                                    optax.adam(2e-4))
  step = da.make_da_step("jumbot", model.apply, num_classes=10, eta1=JUMBOT["eta1"],
                         eta2=JUMBOT["eta2"], epsilon=JUMBOT["epsilon"], rho=JUMBOT["rho"])
  batch = {"xs": xs, "ys": ys, "xt": xt}

  def run_w(st, k):
    for i in range(k):
      st, m = step(st, batch, jax.random.key(i))
    jax.block_until_ready(st.params)
    return st, m

  t0 = time.perf_counter()
  state, _ = run_w(state, 1)
  compile_s = time.perf_counter() - t0
  if torch is not None:
    from experiments.bench_train import torch_models as tm  # pylint: disable=g-import-not-at-top
    tmodel = tm.DigitsCNN()
    opt = torch.optim.Adam(tmodel.parameters(), 2e-4)
    txs = torch.from_numpy(np.ascontiguousarray(xs.transpose(0, 3, 1, 2)))
    txt = torch.from_numpy(np.ascontiguousarray(xt.transpose(0, 3, 1, 2)))
    tys = torch.from_numpy(ys.astype(np.int64))

  def run_t(k):
    if torch is None:
      return None
    for _ in range(k):
      loss = tm.jumbot_step(tmodel, opt, txs, tys, txt, eta1=JUMBOT["eta1"], eta2=JUMBOT["eta2"],
                            tau=JUMBOT["rho"], epsilon=JUMBOT["epsilon"])
    return float(loss)

  run_t(1)
  ws, ts = [], []
  for _ in range(rounds):
    t0 = time.perf_counter()
    state, metrics = run_w(state, steps)
    ws.append((time.perf_counter() - t0) / steps)
    if torch is not None:
      t0 = time.perf_counter()
      run_t(steps)
      ts.append((time.perf_counter() - t0) / steps)
    print(f"  jumbot step: wassml {ws[-1]:.3f} s, reference "
          f"{ts[-1] if ts else float('nan'):.3f} s", flush=True)
  w, t = _median(ws), (_median(ts) if ts else None)
  return {"wassml_s": w, "reference_s": t, "ratio": w / t if t else None, "wassml_runs_s": ws,
          "reference_runs_s": ts, "wassml_compile_s": compile_s, "steps_per_round": steps,
          "plan_mass_wassml": float(metrics["plan_mass"]), "pot": ot.__version__,
          "reference": "PyTorch DigitsCNN, cost to numpy float64, "
                       "ot.unbalanced.sinkhorn_knopp_unbalanced(a, b, M, reg=0.1, reg_m=1) "
                       "at POT's defaults (numItermax 1000, stopThr 1e-6), plan back to torch"}


def bench_executions(rounds: int, steps: int, seeds: int = 3) -> dict:
  """``train_loop``'s executions for ``seeds`` SmallCNN runs, side by side."""
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  x, y = fashion_mnist(6400)
  state, step, batches = wassml_classifier(x, y, vat=False, num_seeds=seeds)
  modes = ("host", "vmap", "scan")
  compile_s, finals = {}, {}
  for m in modes:
    t0 = time.perf_counter()
    finals[m], _ = wassml_run(state, step, batches, steps, num_seeds=seeds, execution=m)
    compile_s[m] = time.perf_counter() - t0
  diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
             for m in ("vmap", "scan") for a, b in zip(jax.tree.leaves(finals[m].params),
                                                       jax.tree.leaves(finals["host"].params)))
  times = {m: [] for m in modes}
  for _ in range(rounds):
    for m in modes:
      t0 = time.perf_counter()
      wassml_run(state, step, batches, steps, num_seeds=seeds, execution=m)
      times[m].append(time.perf_counter() - t0)
  med = {m: _median(t) for m, t in times.items()}
  print(f"  executions: {med}", flush=True)
  return {**{f"{m}_s": v for m, v in med.items()},
          **{f"{m}_over_host": med[m] / med["host"] for m in modes if m != "host"},
          "first_call_s": compile_s, "seeds": seeds, "steps": steps, "batch_size": 128,
          "max_abs_param_diff_vs_host": diff, "fastest": min(med, key=med.get)}


def bench_conv_layer(rounds: int) -> dict:
  """The SmallCNN's second convolution (128 x 14 x 14 x 32 -> 64, 3x3, SAME) piece by piece."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from jax import lax  # pylint: disable=g-import-not-at-top
  from wassml.nn import conv  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(128, 14, 14, 32)), jnp.float32)
  w = jnp.asarray(rng.normal(size=(3, 3, 32, 64)) * 0.1, jnp.float32)
  dn = ("NHWC", "HWIO", "NHWC")

  def lax_conv(x, w):
    return lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=dn)

  def wassml_conv(x, w):
    return conv.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=dn)

  dy = jnp.asarray(rng.normal(size=(128, 14, 14, 64)), jnp.float32)
  fns = {
      "forward": jax.jit(lax_conv),
      "input_grad": jax.jit(lambda x, w: jax.vjp(lambda u: lax_conv(u, w), x)[1](dy)[0]),
      "kernel_grad_lax": jax.jit(lambda x, w: jax.vjp(lambda v: lax_conv(x, v), w)[1](dy)[0]),
      "kernel_grad_wassml": jax.jit(lambda x, w: jax.vjp(lambda v: wassml_conv(x, v), w)[1](dy)[0]),
      "forward_and_both_grads_wassml": jax.jit(lambda x, w: jax.grad(
          lambda u, v: jnp.vdot(wassml_conv(u, v), dy), argnums=(0, 1))(x, w)),
  }
  out = {}
  for name, f in fns.items():
    jax.block_until_ready(f(x, w))
    ts = []
    for _ in range(max(rounds, 1) * 5):
      t0 = time.perf_counter()
      jax.block_until_ready(f(x, w))
      ts.append(time.perf_counter() - t0)
    out[f"{name}_ms"] = 1e3 * _median(ts)
  if have_torch():
    torch = torch_setup()
    tx = torch.from_numpy(np.asarray(x).transpose(0, 3, 1, 2).copy()).requires_grad_(True)
    tw = torch.from_numpy(np.asarray(w).transpose(3, 2, 0, 1).copy()).requires_grad_(True)
    tdy = torch.from_numpy(np.asarray(dy).transpose(0, 3, 1, 2).copy())

    def torch_layer():
      y = torch.nn.functional.conv2d(tx, tw, padding=1)
      gx, gw = torch.autograd.grad(y, (tx, tw), tdy)
      return gx, gw

    torch_layer()
    ts = []
    for _ in range(max(rounds, 1) * 5):
      t0 = time.perf_counter()
      torch_layer()
      ts.append(time.perf_counter() - t0)
    out["torch_forward_and_both_grads_ms"] = 1e3 * _median(ts)
    out["ratio"] = out["forward_and_both_grads_wassml_ms"] / out["torch_forward_and_both_grads_ms"]
  print(f"  conv layer: {out}", flush=True)
  return out


def bench_profile() -> dict:
  """Per-operation-kind time of the SmallCNN CCE step and of the JUMBOT step (profile.py)."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  import optax  # pylint: disable=g-import-not-at-top
  from experiments.bench_train import profile  # pylint: disable=g-import-not-at-top
  from wassml import domain_adaptation as da  # pylint: disable=g-import-not-at-top
  from wassml import nn as wnn  # pylint: disable=g-import-not-at-top
  from wassml import train as wtrain  # pylint: disable=g-import-not-at-top
  x, y = fashion_mnist(1280)
  state, step, batches = wassml_classifier(x, y, vat=False)
  out = {"smallcnn_cce_step": profile.profile_step(
      step, (state, jax.tree.map(jnp.asarray, batches(0)), jax.random.key(0)), repeats=10)}
  rng = np.random.default_rng(0)
  model = da.DAModel(wnn.DigitsCNN(num_classes=10))
  st = wtrain.create_train_state(jax.random.key(0), model, jnp.zeros((1, 32, 32, 3)),
                                 optax.adam(2e-4))
  jstep = jax.jit(wtrain.make_step(da.make_da_loss(
      "jumbot", model.apply, eta1=JUMBOT["eta1"], eta2=JUMBOT["eta2"],
      epsilon=JUMBOT["epsilon"], rho=JUMBOT["rho"])))
  batch = {"xs": jnp.asarray(rng.uniform(size=(500, 32, 32, 3)), jnp.float32),
           "ys": jnp.asarray(np.repeat(np.arange(10), 50), jnp.int32),
           "xt": jnp.asarray(rng.uniform(size=(500, 32, 32, 3)), jnp.float32)}
  out["jumbot_step"] = profile.profile_step(jstep, (st, batch, jax.random.key(0)), repeats=2)
  for k, v in out.items():
    print(f"  profile {k}: {v['by_kind_ms']}", flush=True)
  return out


# ----------------------------------------------------------------------------- memory (children)
def peak_rss_mib() -> float:
  """This process's peak resident memory (``VmHWM``), in MiB.

  Not ``getrusage(...).ru_maxrss``: Linux carries that over ``fork`` and ``exec``, so a child
  of the benchmark would report at least the parent's size when it was spawned.
  """
  with open("/proc/self/status") as fh:
    for line in fh:
      if line.startswith("VmHWM:"):
        return int(line.split()[1]) / 1024
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # no /proc: not Linux


def child(kind: str) -> dict:
  """Runs one memory probe in this (fresh) process; returns its peak RSS."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  x, y = fashion_mnist()
  base = peak_rss_mib()
  t0 = time.perf_counter()
  if kind == "wassml_epoch":
    state, step, batches = wassml_classifier(x, y, vat=False)
    wassml_run(state, step, batches, batches.steps_per_epoch)
  elif kind == "wassml_3seeds_vmap":
    state, step, batches = wassml_classifier(x, y, vat=False, num_seeds=3)
    wassml_run(state, step, batches, batches.steps_per_epoch // 4, num_seeds=3, execution="vmap")
  elif kind == "torch_epoch":
    from experiments.bench_train import torch_models as tm  # pylint: disable=g-import-not-at-top
    torch = torch_setup()
    model = tm.SmallCNN()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    torch_epoch(torch, model, opt, xt, torch.from_numpy(y.astype(np.int64)), vat=False)
  else:
    raise ValueError(f"unknown memory probe {kind!r}")
  return {"peak_rss_mib": peak_rss_mib(),
          "rss_after_data_mib": base, "seconds": time.perf_counter() - t0}


def bench_memory() -> dict:
  out = {}
  kinds = ("wassml_epoch", "wassml_3seeds_vmap") + (("torch_epoch",) if have_torch() else ())
  for kind in kinds:
    res = subprocess.run([sys.executable, "-m", "experiments.bench_train.main", f"--child={kind}",
                          f"--data={DATA['images']}"],
                         capture_output=True, text=True, check=True,
                         env={**os.environ, "WASSML_PROGRESS": "0"})
    out[kind] = json.loads(res.stdout.strip().splitlines()[-1])
    print(f"  memory {kind}: {out[kind]}", flush=True)
  out["note"] = ("peak resident memory of a fresh process: Fashion-MNIST train split loaded "
                 "(rss_after_data_mib), then one epoch (SmallCNN, batch 128); the 3-seed run "
                 "is 117 steps with execution='vmap' (three states stacked, batches [3, 128]).")
  return out


def bench_cnn_probe(workdir: str, command: str | None = None) -> dict:
  """Reruns cnn_probe's VAT point on the current loop and times the whole command.

  The rerun trains in a fresh temporary folder (a folder holding its checkpoints would resume
  instead of retraining); its ``tune.json`` rows are kept in the result.
  """
  del workdir
  with tempfile.TemporaryDirectory() as wd:
    cmd = [sys.executable, "-m", "experiments.noisy_labels.tune",
           "--config=experiments/noisy_labels/configs/cnn_probe.py:vat", f"--workdir={wd}"]
    cmd = command.split() if command else cmd
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True,
                         env={**os.environ, "WASSML_PROGRESS": "0"})
    wall = time.perf_counter() - t0
    tune = os.path.join(wd, "tune.json")
    rows = json.load(open(tune)).get("rows") if os.path.exists(tune) else None
  shown = " ".join(c if not c.startswith("--workdir=") else "--workdir=<fresh folder>"
                   for c in cmd[1:])
  if res.returncode:
    return {"error": res.stderr[-2000:], "command": shown, "seconds": wall}
  return {"old_s": CNN_PROBE_OLD_S, "new_s": wall, "speedup": CNN_PROBE_OLD_S / wall,
          "command": shown, "tune_rows": rows,
          "note": "wall time of the whole command (data load, compilation, 3 epochs, "
                  "validation), like the 574 s of results/cnn_probe"}


def _fmt(v, unit=""):
  if v is None:
    return "n/a"
  return (f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}") + unit


def summary_markdown(results: dict) -> str:
  """The rows of ``results`` as markdown tables (the top of ``README.md`` beside the JSON)."""
  meta = results.get("meta", {})
  lines = [f"Generated from `results.json` by `experiments/bench_train/main.py` "
           f"({meta.get('date_utc', '?')}, {meta.get('platform', '?')}, "
           f"{meta.get('cpu_count', '?')} cores, jax {meta.get('jax', '?')}, "
           f"torch {meta.get('torch', '?')}, data `{meta.get('data', '?')}`).", "",
           *[f"Command ({r['date_utc']}): `{r['command']}`" for r in
             meta.get("runs", [{"date_utc": meta.get("date_utc", "?"),
                                "command": meta.get("command", "?")}])], "",
           "| row | wassml | reference | ratio (wassml / reference) |", "|---|---|---|---|"]
  for row, ref in (("smallcnn_cce_epoch", "torch_s"), ("smallcnn_vat_epoch", "torch_s"),
                   ("jumbot_step", "reference_s")):
    r = results.get(row)
    if r:
      lines.append(f"| `{row}` | {_fmt(r.get('wassml_s'), ' s')} | {_fmt(r.get(ref), ' s')} | "
                   f"{_fmt(r.get('ratio'))} |")
  ex = results.get("executions")
  if ex:
    lines += ["", f"`executions` ({ex['seeds']} seeds x {ex['steps']} SmallCNN steps, batch "
              f"{ex['batch_size']}; fastest: `{ex['fastest']}`)", "",
              "| execution | seconds | over host |", "|---|---|---|",
              f"| host | {_fmt(ex['host_s'], ' s')} | 1 |",
              f"| vmap | {_fmt(ex['vmap_s'], ' s')} | {_fmt(ex['vmap_over_host'])} |",
              f"| scan | {_fmt(ex['scan_s'], ' s')} | {_fmt(ex['scan_over_host'])} |"]
  mem = results.get("memory")
  if mem:
    lines += ["", "| memory probe | peak RSS | RSS after data |", "|---|---|---|"]
    lines += [f"| {k} | {_fmt(v['peak_rss_mib'], ' MiB')} | "
              f"{_fmt(v['rss_after_data_mib'], ' MiB')} |"
              for k, v in mem.items() if isinstance(v, dict)]
  cp = results.get("cnn_probe_speedup")
  if cp:
    lines += ["", (f"`cnn_probe_speedup`: {_fmt(cp.get('old_s'), ' s')} (old path) / "
                   f"{_fmt(cp.get('new_s'), ' s')} (now) = **{_fmt(cp.get('speedup'))}x**")
              if "speedup" in cp else f"`cnn_probe_speedup`: failed: {cp.get('error', '')[-300:]}"]
  cl = results.get("conv_layer")
  if cl:
    lines += ["", "`conv_layer` (SmallCNN conv 2: 128 x 14 x 14 x 32 -> 64, 3x3), ms per call:", "",
              "| piece | ms |", "|---|---|"]
    lines += [f"| {k[:-3]} | {_fmt(v)} |" for k, v in cl.items() if k.endswith("_ms")]
    if cl.get("ratio") is not None:
      lines.append(f"| ratio (wassml / PyTorch, forward + both gradients) | {_fmt(cl['ratio'])} |")
  prof = results.get("profile")
  if prof:
    for name, p in prof.items():
      if not isinstance(p, dict):
        continue  # measured_utc
      top = sorted(p["by_kind_ms"].items(), key=lambda kv: -kv[1])[:6]
      lines += ["", f"Profile of `{name}` (ms per step by operation kind): " +
                ", ".join(f"{k} {v:.1f}" for k, v in top)]
  return "\n".join(lines) + "\n"


def cpu_model() -> str:
  """The CPU's model name (``/proc/cpuinfo``), or the platform's machine type."""
  try:
    with open("/proc/cpuinfo") as fh:
      for line in fh:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or platform.machine()


ANALYSIS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "analysis.md")


def write_readme(workdir: str, results: dict) -> str:
  """``<workdir>/README.md``: the tables of :func:`summary_markdown`, then ``analysis.md``."""
  text = "# Training speed on this CPU: wassml against PyTorch, side by side\n\n"
  text += summary_markdown(results)
  if os.path.exists(ANALYSIS):
    text += "\n" + open(ANALYSIS).read()
  path = os.path.join(workdir, "README.md")
  with open(path, "w") as fh:
    fh.write(text)
  return path


def main(argv):
  del argv
  DATA["images"] = FLAGS.data
  if FLAGS.child:
    print(json.dumps(child(FLAGS.child)))
    return
  import jax  # pylint: disable=g-import-not-at-top
  os.makedirs(FLAGS.workdir, exist_ok=True)
  path = os.path.join(FLAGS.workdir, "results.json")
  results = {}
  if os.path.exists(path) and FLAGS.keep:
    results = json.load(open(path))
  if not FLAGS.rows:  # only rewrite the README from the results already measured
    print(write_readme(FLAGS.workdir, results))
    return
  t0 = time.time()
  for row in FLAGS.rows:
    print(f"{row} ...", flush=True)
    if row == "smallcnn_cce_epoch":
      results[row] = bench_epoch(False, FLAGS.rounds)
    elif row == "smallcnn_vat_epoch":
      results[row] = bench_epoch(True, FLAGS.rounds)
    elif row == "jumbot_step":
      results[row] = bench_jumbot(FLAGS.rounds + 1, FLAGS.jumbot_steps)
    elif row == "executions":
      results[row] = bench_executions(FLAGS.rounds, FLAGS.exec_steps)
    elif row == "memory":
      results[row] = bench_memory()
    elif row == "cnn_probe_speedup":
      results[row] = bench_cnn_probe(FLAGS.workdir, FLAGS.cnn_probe_command)
    elif row == "profile":
      results[row] = bench_profile()
    elif row == "conv_layer":
      results[row] = bench_conv_layer(FLAGS.rounds)
    else:
      raise ValueError(f"unknown row {row!r}; valid: {list(ROWS)}")
    results[row]["measured_utc"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with open(path, "w") as fh:  # after every row: a killed run keeps what it measured
      json.dump(results, fh, indent=2)
  torch_version = None
  if have_torch():
    import torch  # pylint: disable=g-import-not-at-top
    torch_version = torch.__version__
  previous = results.get("meta", {})
  runs = previous.get("runs", [])
  results["meta"] = {
      "command": "python -m experiments.bench_train.main " + " ".join(
          f"--{k}={getattr(FLAGS, k) if k != 'rows' else ','.join(FLAGS.rows)}"
          for k in ("workdir", "rows", "rounds", "jumbot_steps", "exec_steps", "data")),
      "threads": f"XLA:CPU default intra-op pool ({os.cpu_count()} cores); "
                 f"torch.set_num_threads({os.cpu_count()})",
      "data": FLAGS.data,
      "xla_flags": os.environ.get("XLA_FLAGS", ""),
      "machine": cpu_model(),
      "platform": platform.platform(),
      "cpu_count": os.cpu_count(),
      "backend": jax.default_backend(),
      "jax": jax.__version__,
      "torch": torch_version,
      "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
      "seconds": time.time() - t0,
      "load_average_at_end": os.getloadavg(),
  }
  # Every invocation that wrote rows into this file (a row is stamped with its measured_utc).
  results["meta"]["runs"] = runs + ([{k: results["meta"][k] for k in (
      "command", "date_utc", "seconds", "load_average_at_end")}])
  with open(path, "w") as fh:
    json.dump(results, fh, indent=2)
  write_readme(FLAGS.workdir, results)
  print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk in (
      "ratio", "speedup", "fastest", "wassml_s", "torch_s", "reference_s")}
      for k, v in results.items() if k not in ("meta", "memory")}, indent=2))


if __name__ == "__main__":
  flags.DEFINE_string("workdir", "experiments/bench_train/results/cpu", "Where results.json goes.")
  flags.DEFINE_list("rows", list(ROWS), f"Rows to measure, of {list(ROWS)}.")
  flags.DEFINE_integer("rounds", 2, "Interleaved timed rounds per row (median reported).")
  flags.DEFINE_integer("jumbot_steps", 5, "JUMBOT steps per timed round.")
  flags.DEFINE_integer("exec_steps", 60, "Steps per seed in the executions row.")
  flags.DEFINE_enum("data", "fashion_mnist", ["fashion_mnist", "random"],
                    "The epoch rows' images: Fashion-MNIST, or random ones of its shape.")
  flags.DEFINE_bool("keep", True, "Keep the rows of an existing results.json not rerun.")
  flags.DEFINE_string("child", None, "Internal: run one memory probe and print its JSON.")
  flags.DEFINE_string("cnn_probe_command", None, "Override the cnn_probe rerun command.")
  app.run(main)
