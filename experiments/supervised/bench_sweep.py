r"""Speed of a seed sweep: ``vectorize="vmap"`` vs ``"map"`` (one compiled call of
``wassml.train.sweep``, the steps in a ``fori_loop``) vs ``"host"`` (one compiled step called
seed after seed and step after step from Python), measured side by side in one process (rounds
interleaved, medians).

Each variant trains ``--seeds`` fresh CNNs with ``wassml.active_learning.training.fit_seeds``
(``--steps`` Adam steps of batch ``--batch`` on 1000 Fashion-MNIST-shaped images; the step count is
traced, so the first call compiles and the timed calls reuse the program). Results are equal up
to float rounding (checked here too). ``VGG8n`` is the narrow VGG8 of the active-learning
transfer runs (widths 16-32-32-64-64, dense 256).

Usage:
  PYTHONPATH=. python -m experiments.supervised.bench_sweep --seeds=3 --steps=300 --rounds=3
"""

from __future__ import annotations

import functools
import time

from absl import app
from absl import flags
import jax
import numpy as np

from wassml.active_learning import training
from wassml.nn import cnn


MODELS = {"LeNet5": cnn.LeNet5, "SmallCNN": cnn.SmallCNN,
          "VGG8n": functools.partial(cnn.VGG8, widths=(16, 32, 32, 64, 64), dense=256)}
MODES = ("vmap", "map", "host")


def run(seeds: int = 3, steps: int = 300, batch: int = 32, rounds: int = 3, models=tuple(MODELS)) -> dict:
  """Returns ``{model: {mode: median seconds, '<mode>_over_host': ratios, 'max_abs_param_diff': ...}}``."""
  rng = np.random.default_rng(0)
  n = 1000
  x = rng.uniform(size=(seeds, n, 28, 28, 1)).astype(np.float32)
  y = rng.integers(0, 10, (seeds, n)).astype(np.int32)
  keys = jax.random.split(jax.random.key(0), seeds)
  out = {}
  for mname in models:
    module = MODELS[mname](num_classes=10)
    call = lambda mode, s: training.fit_seeds(keys, module, x, y, np.full(seeds, n), num_steps=s,  # noqa: E731
                                              batch_size=batch, vectorize=mode)
    first = {m: jax.block_until_ready(call(m, 2)) for m in MODES}  # compile each variant once
    diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
               for m in ("vmap", "map") for a, b in zip(jax.tree.leaves(first[m]), jax.tree.leaves(first["host"])))
    times = {m: [] for m in MODES}
    for _ in range(rounds):
      for m in MODES:
        t0 = time.perf_counter()
        jax.block_until_ready(call(m, steps))
        times[m].append(time.perf_counter() - t0)
    med = {m: float(np.median(t)) for m, t in times.items()}
    out[mname] = {**med, "vmap_over_host": med["vmap"] / med["host"], "map_over_host": med["map"] / med["host"],
                  "max_abs_param_diff_after_2_steps": diff}
    print(f"{mname}: {out[mname]}", flush=True)
  return out


def main(argv):
  del argv
  res = run(_SEEDS.value, _STEPS.value, _BATCH.value, _ROUNDS.value, tuple(_MODELS.value))
  print(f"backend {jax.default_backend()}, {_SEEDS.value} seeds x {_STEPS.value} steps, batch {_BATCH.value}")
  print(f"{'model':10s} {'vmap s':>8s} {'map s':>8s} {'host s':>8s} {'vmap/host':>10s} {'map/host':>9s} "
        f"{'param diff':>11s}")
  for m, r in res.items():
    print(f"{m:10s} {r['vmap']:8.2f} {r['map']:8.2f} {r['host']:8.2f} {r['vmap_over_host']:10.2f} "
          f"{r['map_over_host']:9.2f} {r['max_abs_param_diff_after_2_steps']:11.2e}")


if __name__ == "__main__":
  # Flags are defined only when run as a script, so importing this module
  # (tests, colabs) never clashes with another script's flags.
  _SEEDS = flags.DEFINE_integer("seeds", 3, "Runs in the sweep.")
  _STEPS = flags.DEFINE_integer("steps", 300, "Adam steps per run.")
  _BATCH = flags.DEFINE_integer("batch", 32, "Minibatch size.")
  _ROUNDS = flags.DEFINE_integer("rounds", 3, "Timed rounds per variant (interleaved).")
  _MODELS = flags.DEFINE_list("models", ["LeNet5", "SmallCNN", "VGG8n"], "Models to time.")
  app.run(main)
