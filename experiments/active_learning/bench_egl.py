r"""Speed of EGL scoring (``wassml.active_learning.scores.egl_scores``): ``loop="map"``
(``lax.map`` over the examples of a chunk inside one compiled program) vs ``loop="host"`` (one
compiled per-example program called from Python), side by side in one process (rounds
interleaved, medians), on ``--n`` Fashion-MNIST-shaped random images and freshly initialised
CNNs. The scores are checked equal (rtol 1e-4).

Usage:
  PYTHONPATH=. python -m experiments.active_learning.bench_egl --n=256 --rounds=3
"""

from __future__ import annotations

import time

from absl import app
from absl import flags
import jax
import numpy as np

from wassml.active_learning import scores
from wassml.nn import cnn

MODELS = {"LeNet5": cnn.LeNet5, "SmallCNN": cnn.SmallCNN}


def run(n: int = 256, rounds: int = 3, models=tuple(MODELS)) -> dict:
  """Returns ``{model: {"map": s, "host": s, "map_over_host": ratio, "max_rel_diff": ...}}``."""
  x = np.random.default_rng(0).uniform(size=(n, 28, 28, 1)).astype(np.float32)
  out = {}
  for name in models:
    module = MODELS[name]()
    variables = module.init(jax.random.key(0), x[:1])
    apply_fn = module.apply
    res = {m: scores.egl_scores(apply_fn, variables, x, loop=m).block_until_ready()
           for m in ("map", "host")}  # compile both
    rel = float(np.max(np.abs(res["map"] - res["host"]) / np.abs(res["host"])))
    np.testing.assert_allclose(res["map"], res["host"], rtol=1e-4)
    times = {"map": [], "host": []}
    for _ in range(rounds):
      for m in ("map", "host"):
        t = time.perf_counter()
        scores.egl_scores(apply_fn, variables, x, loop=m).block_until_ready()
        times[m].append(time.perf_counter() - t)
    med = {m: float(np.median(v)) for m, v in times.items()}
    out[name] = {**med, "map_over_host": med["map"] / med["host"], "max_rel_diff": rel}
    print(f"{name}: map {med['map']:.3f} s, host {med['host']:.3f} s, "
          f"map/host {med['map'] / med['host']:.2f} (n={n}, median of {rounds}; "
          f"max relative difference {rel:.1e})", flush=True)
  return out


def main(argv):
  del argv
  print(f"jax {jax.__version__}, backend {jax.default_backend()}, devices {jax.devices()}")
  run(FLAGS.n, FLAGS.rounds)


if __name__ == "__main__":
  FLAGS = flags.FLAGS
  flags.DEFINE_integer("n", 256, "Images scored.")
  flags.DEFINE_integer("rounds", 3, "Timed rounds per mode (interleaved); the median is reported.")
  app.run(main)
