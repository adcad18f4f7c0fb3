r"""Table A.2's LeNet5 with and without its Dense10-ReLU layer, on few random Fashion-MNIST labels.

Why ``configs/cpu.py`` sets ``lenet_dense = (84,)``: with the active-learning training budget
(Adam 1e-3, batch 32, 30 epochs clipped to >= 200 steps) the 10-unit ReLU layer before the
dropout 0.5 and the softmax often dies, and the learning curves become noise. Each variant
trains ``--seeds`` fresh models (``fit_seeds``) on random labelled sets of 160 and 320 pool
images (200 / 300 steps) and prints their test accuracy on 2000 test images.

Usage:
  PYTHONPATH=. python -m experiments.active_learning.lenet_bottleneck --variant=table_a2
  PYTHONPATH=. python -m experiments.active_learning.lenet_bottleneck --variant=no_dense10
  PYTHONPATH=. python -m experiments.active_learning.lenet_bottleneck --variant=table_a2_glorot
"""

from __future__ import annotations

import time

from absl import app
from absl import flags
import flax.linen as nn
import jax
import numpy as np

from wassml import data
from wassml.active_learning import training
from wassml.nn import cnn


class _GlorotLeNet5(nn.Module):
  """Table A.2's LeNet5 with Keras's default initialisation (glorot-uniform kernels)."""

  num_classes: int = 10

  @nn.compact
  def __call__(self, x, train: bool = False, return_features: bool = False):
    gi = nn.initializers.glorot_uniform()
    d = lambda r: nn.Dropout(r, deterministic=not train)  # noqa: E731
    h = d(0.25)(cnn._pool(nn.relu(nn.Conv(6, (5, 5), padding="VALID", kernel_init=gi)(x))))  # noqa: SLF001
    h = d(0.25)(cnn._pool(nn.relu(nn.Conv(120, (3, 3), padding="VALID", kernel_init=gi)(h))))  # noqa: SLF001
    h = h.reshape(h.shape[:-3] + (-1,))
    for w in (84, 10):
      h = nn.relu(nn.Dense(w, kernel_init=gi)(h))
    f = d(0.5)(h)
    logits = nn.Dense(self.num_classes, kernel_init=gi)(f)
    return (logits, f) if return_features else logits


def make(variant: str) -> nn.Module:
  if variant == "table_a2":
    return cnn.LeNet5(num_classes=10)
  if variant == "table_a2_glorot":
    return _GlorotLeNet5()
  return cnn.LeNet5(num_classes=10, dense=(84,))


def main(argv):
  del argv
  tr, te = data.load("fashion_mnist", "train"), data.load("fashion_mnist", "test")
  rng = np.random.default_rng(0)
  xt, yt = te.x[:2000].astype(np.float32), te.y[:2000]
  module, s = make(_VARIANT.value), _SEEDS.value
  for n, steps in ((160, 200), (320, 300)):
    idx = np.stack([rng.permutation(len(tr.x))[:n] for _ in range(s)])
    t0 = time.perf_counter()
    v = training.fit_seeds(jax.random.split(jax.random.key(1), s), module, tr.x[idx].astype(np.float32), tr.y[idx],
                           np.full(s, n), num_steps=steps, batch_size=32)
    acc = training.accuracy_seeds(module, v, xt, yt)
    print(f"{_VARIANT.value} labels={n} steps={steps} test_acc={np.round(acc, 3).tolist()} "
          f"({time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
  # Flags are defined only when run as a script, so importing this module
  # (tests, colabs) never clashes with another script's flags.
  _VARIANT = flags.DEFINE_enum("variant", "table_a2", ["table_a2", "table_a2_glorot", "no_dense10"], "Model.")
  _SEEDS = flags.DEFINE_integer("seeds", 4, "Models per setting.")
  app.run(main)
