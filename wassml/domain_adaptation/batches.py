"""Host batch samplers of the DA family for :func:`wassml.train.train_loop`.

A DA step reads one class-balanced labelled source minibatch (JUMBOT's sampling) and one shuffled
unlabelled target minibatch. :class:`DABatches` is the ``batch_fn`` of one run: step ``i``'s
batch is a function of the key and ``i`` alone (each domain is drawn epoch by epoch, epoch ``e``
from ``fold_in(key_domain, e)``), so a resumed run sees exactly the batches it would have seen.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from wassml.data.sampling import balanced_batches
from wassml.domain_adaptation.dann import dann_schedule
from wassml.train.batches import EpochBatches

__all__ = ["BalancedEpochBatches", "DABatches"]


class BalancedEpochBatches:
  """Class-balanced index batches, epoch by epoch: step ``i`` -> ``[per_class * C]`` indices.

  Epoch ``e`` (``steps_per_epoch = N // (per_class * C)`` batches, at least one) is
  :func:`wassml.data.balanced_batches` with the key ``fold_in(key, e)``: within an epoch every
  class is drawn without replacement (a small class is reshuffled when it runs out, as in the
  JUMBOT digits code), and each epoch starts from fresh orders.

  Args:
    y: ``[N]`` int labels.
    per_class: examples of each class per batch.
    key: a ``jax.random.key``.
  """

  def __init__(self, y: Any, per_class: int, key: jax.Array):
    self.y = np.asarray(y)
    self.per_class = int(per_class)
    self.key = key
    num_classes = len(np.unique(self.y))
    self.steps_per_epoch = max(1, len(self.y) // (self.per_class * max(num_classes, 1)))
    self._epoch: tuple[int, np.ndarray] | None = None

  def __call__(self, i: int) -> np.ndarray:
    epoch, j = divmod(int(i), self.steps_per_epoch)
    if self._epoch is None or self._epoch[0] != epoch:
      rows = balanced_batches(jax.random.fold_in(self.key, epoch), self.y, self.per_class,
                              num_batches=self.steps_per_epoch)
      self._epoch = (epoch, np.stack(list(rows)))
    return self._epoch[1][j]


class DABatches:
  """``batch_fn(i)`` of one DA run: ``{'xs', 'ys', 'xt'}`` (+ ``'grl_scale'`` for DANN).

  Source rows come from :class:`BalancedEpochBatches` (key ``fold_in(key, 0)``), target rows
  from :class:`wassml.train.EpochBatches` (key ``fold_in(key, 1)``, ``target_batch`` rows).

  Args:
    source_x, source_y: the labelled source examples.
    target_x: the unlabelled target examples.
    per_class: source examples of each class per batch.
    target_batch: target rows per batch.
    key: a ``jax.random.key``.
    grl_steps: for DANN, the run's number of steps: the batch then carries the gradient-reversal
      weight ``dann_schedule(i / (grl_steps - 1))`` of step ``i``; None: no weight.
  """

  def __init__(self, source_x: Any, source_y: Any, target_x: Any, *, per_class: int,
               target_batch: int, key: jax.Array, grl_steps: int | None = None):
    self.source_x = np.asarray(source_x)
    self.source_y = np.asarray(source_y)
    self.source = BalancedEpochBatches(self.source_y, per_class, jax.random.fold_in(key, 0))
    self.target = EpochBatches({"xt": np.asarray(target_x)}, target_batch,
                               jax.random.fold_in(key, 1))
    self.grl_steps = grl_steps

  def indices(self, i: int) -> tuple[np.ndarray, np.ndarray]:
    """``(source indices, target indices)`` of step ``i``."""
    return self.source(i), self.target.indices(i)

  def __call__(self, i: int) -> dict[str, np.ndarray]:
    s_idx = self.source(i)
    batch = {"xs": self.source_x[s_idx], "ys": self.source_y[s_idx], **self.target(i)}
    if self.grl_steps is not None:
      batch["grl_scale"] = np.float32(dann_schedule(i / max(self.grl_steps - 1, 1)))
    return batch
