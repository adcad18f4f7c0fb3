r"""Speed of WAR's label OT: the Sinkhorn kernel domain vs the log domain, side by side.

Two measurements, each variant compiled first, then timed in interleaved rounds (medians):

* ``label_ot``: value and gradient of ``wassml.ot.label_ot`` for a ``[batch, 10]`` pair of
  probability vectors (WAR's ``eps = 0.05``, 20 unrolled iterations, a confusion-style cost in
  ``[0, 1]``);
* ``war_epoch``: one epoch of WAR training (``experiments.noisy_labels.train.train_phase``, i.e.
  ``wassml.train.train_loop``: the MLP of ``configs/cpu_v3.py``, batch 128, one seed) on
  ``--num_train`` random 784-d inputs, with ``config.label_ot_mode`` set to each domain; VAT's
  epoch is timed beside them as the reference cost of the adversarial step without any OT.

The two domains run the same iterations (equal values and gradients:
``tests/test_ot_misc.py::test_label_ot_kernel_and_log_domains_agree_with_traced_cost``).

Usage:
  PYTHONPATH=. python -m experiments.noisy_labels.bench_label_ot --num_train=8192 --rounds=3
"""

from __future__ import annotations

import json
import os
import platform
import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments.noisy_labels import train as nl_train
from experiments.noisy_labels.configs import cpu_v3
from wassml import ot
from wassml import train as wtrain


K = 10


def _cost(rng: np.random.Generator) -> jax.Array:
  s = rng.random((K, K))
  return jnp.asarray(np.where(np.eye(K, dtype=bool), 0.0, 0.3 + 0.7 * (s + s.T) / 2), jnp.float32)


def _timed(fn, rounds: int, variants: list[str]) -> dict[str, float]:
  """Median seconds of ``fn(variant)`` (already compiled), rounds interleaved across variants."""
  times = {v: [] for v in variants}
  for _ in range(rounds):
    for v in variants:
      t = time.perf_counter()
      jax.block_until_ready(fn(v))
      times[v].append(time.perf_counter() - t)
  return {v: float(np.median(ts)) for v, ts in times.items()}


def bench_label_ot(batch: int, rounds: int) -> dict[str, float]:
  rng = np.random.default_rng(0)
  cost = _cost(rng)
  p = jax.nn.softmax(jnp.asarray(rng.normal(size=(batch, K)) * 3, jnp.float32))
  logits = jnp.asarray(rng.normal(size=(batch, K)), jnp.float32)
  fns = {}
  for mode in ("log", "kernel"):
    f = lambda lg, c, m=mode: jnp.sum(ot.label_ot(p, jax.nn.softmax(lg), c, epsilon=0.05,
                                                   num_iters=20, mode=m))
    fns[mode] = jax.jit(jax.value_and_grad(f))
    jax.block_until_ready(fns[mode](logits, cost))
  # 100 calls per timing so that the dispatch overhead is amortised.
  run = lambda m: [fns[m](logits, cost) for _ in range(100)][-1]
  t = _timed(run, rounds, ["log", "kernel"])
  return {f"{m}_ms": 1e3 * s / 100 for m, s in t.items()}


def bench_war_epoch(num_train: int, rounds: int) -> dict[str, float]:
  config = cpu_v3.get_config()
  rng = np.random.default_rng(1)
  x = rng.random((num_train, 784)).astype(np.float32)
  y = rng.integers(0, K, num_train).astype(np.int32)
  xte, yte = jnp.asarray(x[:1000]), jnp.asarray(y[:1000])
  model = nl_train.build_model(config, K)
  spe = num_train // config.batch_size
  params = model.init(jax.random.key(0), x[:1], train=False)["params"]
  state = wtrain.stack_states([wtrain.TrainState.create(apply_fn=model.apply, params=params,
                                                        tx=optax.adam(1e-3))])
  cost = np.asarray(_cost(rng))
  batches = wtrain.EpochBatches({"x": x, "y": y[None]}, config.batch_size,
                                jax.random.split(jax.random.key(1), 1), per_seed=("y",))
  acc = nl_train._accuracy  # pylint: disable=protected-access
  accuracy = jax.jit(lambda p: acc(model, p, xte, yte))

  def batch_fn(i, s):
    return {**batches(i, s), "cost": cost}

  steps, configs = {}, {}
  for variant in ("vat", "war_log", "war_kernel"):
    c = cpu_v3.get_config()
    method = variant.split("_")[0]
    if method == "war":
      c.label_ot_mode = variant.split("_")[1]
    configs[variant] = c
    steps[variant] = jax.jit(nl_train.make_step(model, c, method, warmup_steps=0))

  def epoch(v):  # one epoch through the experiment's train_loop phase, test accuracy included
    return nl_train.train_phase(state, steps[v], batch_fn, config=configs[v], num_epochs=1,
                                steps_per_epoch=spe, rng=jax.random.split(jax.random.key(2), 1),
                                eval_fn=lambda st, s: {"acc": accuracy(st.params)})[0]

  for v in steps:  # compile
    jax.block_until_ready(epoch(v))
  t = _timed(epoch, rounds, list(steps))
  return {f"{v}_s": s for v, s in t.items()}


def main(argv):
  del argv
  out = {"label_ot": bench_label_ot(_BATCH.value, _ROUNDS.value),
         "war_epoch": bench_war_epoch(_NUM_TRAIN.value, _ROUNDS.value),
         "num_train": _NUM_TRAIN.value, "batch": _BATCH.value, "rounds": _ROUNDS.value,
         "machine": f"{platform.machine()} x{os.cpu_count()} CPU", "jax": jax.__version__,
         "backend": jax.default_backend()}
  lo, we = out["label_ot"], out["war_epoch"]
  print(f"label_ot value+grad, [{_BATCH.value}, {K}]: log {lo['log_ms']:.2f} ms, kernel "
        f"{lo['kernel_ms']:.2f} ms, ratio log/kernel {lo['log_ms'] / lo['kernel_ms']:.1f}x")
  print(f"one epoch on {_NUM_TRAIN.value} inputs: VAT {we['vat_s']:.2f} s, WAR log "
        f"{we['war_log_s']:.2f} s, WAR kernel {we['war_kernel_s']:.2f} s; ratio log/kernel "
        f"{we['war_log_s'] / we['war_kernel_s']:.2f}x, WAR kernel / VAT "
        f"{we['war_kernel_s'] / we['vat_s']:.2f}x")
  if _OUT.value:
    os.makedirs(os.path.dirname(_OUT.value) or ".", exist_ok=True)
    with open(_OUT.value, "w") as f:
      json.dump(out, f, indent=1)


if __name__ == "__main__":
  # Flags are defined only when run as a script, so importing this module
  # (tests, colabs) never clashes with another script's flags.
  _NUM_TRAIN = flags.DEFINE_integer("num_train", 8192, "Training inputs in the timed epoch.")
  _BATCH = flags.DEFINE_integer("batch", 128, "Rows of the label-OT problem (and the batch size).")
  _ROUNDS = flags.DEFINE_integer("rounds", 3, "Timed rounds per variant (interleaved).")
  _OUT = flags.DEFINE_string("out", "", "Optional path of a JSON file for the numbers.")
  app.run(main)
