r"""Speed of the CNNs' 2x2 max pooling: ``flax.linen.max_pool`` vs the reshape+max of
``wassml.nn.cnn._pool``, measured on one training-gradient step of each CNN, side by side in one
process (rounds interleaved, medians).

Usage:
  PYTHONPATH=. python -m experiments.supervised.bench_pool --batch=1000 --rounds=5
"""

from __future__ import annotations

import time

from absl import app
from absl import flags
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from wassml.nn import cnn


POOLS = {"flax_max_pool": lambda x: nn.max_pool(x, (2, 2), strides=(2, 2)),
         "reshape_max": cnn._pool}  # pylint: disable=protected-access
MODELS = {"LeNet5": cnn.LeNet5, "SmallCNN": cnn.SmallCNN, "DigitsCNN": cnn.DigitsCNN}


def _grad_fn(model_cls, pool, x, y):
  """A jitted gradient of the CE loss, with ``pool`` traced into the model."""
  original = cnn._pool  # pylint: disable=protected-access
  cnn._pool = pool  # pylint: disable=protected-access
  try:
    model = model_cls(num_classes=10)
    variables = model.init(jax.random.key(1), x[:2])

    def loss(params):
      out = model.apply({**variables, "params": params}, x, train=True, mutable=["batch_stats"],
                        rngs={"dropout": jax.random.key(2)})[0]
      return optax.softmax_cross_entropy_with_integer_labels(out, y).mean()

    fn = jax.jit(jax.grad(loss))
    jax.block_until_ready(fn(variables["params"]))  # compile with this pool
  finally:
    cnn._pool = original  # pylint: disable=protected-access
  return fn, variables["params"]


def run(batch: int = 1000, rounds: int = 5) -> dict:
  """Returns ``{model: {variant: median seconds, 'ratio': flax / reshape}}``."""
  x = jax.random.uniform(jax.random.key(0), (batch, 28, 28, 1))
  y = jnp.arange(batch) % 10
  out = {}
  for mname, mcls in MODELS.items():
    fns = {p: _grad_fn(mcls, pool, x, y) for p, pool in POOLS.items()}
    times = {p: [] for p in POOLS}
    for _ in range(rounds):
      for p, (fn, params) in fns.items():
        t0 = time.perf_counter()
        jax.block_until_ready(fn(params))
        times[p].append(time.perf_counter() - t0)
    med = {p: float(np.median(v)) for p, v in times.items()}
    med["ratio"] = med["flax_max_pool"] / med["reshape_max"]
    out[mname] = med
  return out


def main(argv):
  del argv
  res = run(_BATCH.value, _ROUNDS.value)
  print(f"batch {_BATCH.value}, {_ROUNDS.value} interleaved rounds, median seconds per gradient "
        f"step, backend {jax.default_backend()}")
  print("| model | flax max_pool | reshape+max | ratio |\n|---|---|---|---|")
  for m, r in res.items():
    print(f"| {m} | {r['flax_max_pool']:.3f} | {r['reshape_max']:.3f} | {r['ratio']:.2f}x |")


if __name__ == "__main__":
  # Flags are defined only when run as a script, so importing this module
  # (tests, colabs) never clashes with another script's flags.
  _BATCH = flags.DEFINE_integer("batch", 1000, "Images per step (28x28x1).")
  _ROUNDS = flags.DEFINE_integer("rounds", 5, "Timed rounds per variant (interleaved).")
  app.run(main)
