"""Small problems and models shared by several test files (import: ``from tests.fixtures``)."""

import flax.linen as nn
import numpy as np
import ot  # POT: independent reference only.


def ot_problem(seed, n, m, d=3):
  """A max-normalised squared-Euclidean cost ``[n, m]`` and random positive weights (float64)."""
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(n, d))
  y = rng.normal(size=(m, d)) + 0.5
  cost = ot.dist(x, y)
  cost /= cost.max()
  a = rng.random(n) + 0.1
  b = rng.random(m) + 0.1
  return cost, a / a.sum(), b / b.sum()


def np_kl(p, q):
  """Generalised KL ``sum p log(p/q) - p + q`` in numpy (positive entries)."""
  return np.sum(p * np.log(p / q) - p + q)


class TinyNet(nn.Module):
  """MLP classifier with the ``return_features`` contract of wassml.nn."""
  num_classes: int = 2

  @nn.compact
  def __call__(self, x, train=False, return_features=False):
    h = nn.relu(nn.Dense(16)(x))
    f = nn.Dense(8)(h)
    logits = nn.Dense(self.num_classes)(nn.relu(f))
    return (logits, f) if return_features else logits


class Killed(Exception):
  """Stands for a process killed mid-run (raised by :func:`dying`)."""


def dying(batch_fn, kill_at):
  """``batch_fn`` (called as ``(i)`` or ``(i, s)``) that raises :class:`Killed` at step
  ``kill_at`` (None: never), as a run killed there would stop."""
  def fn(i, *seed):
    if kill_at is not None and i == kill_at:
      raise Killed()
    return batch_fn(i, *seed)
  return fn


class PhaseKiller:
  """Stands in for ``wassml.train.loop.train_loop`` (what ``wassml.train.run_phase`` calls).

  It records the first step of every phase it runs (``starts[desc]``), and with
  ``kill = (name, step)`` the phase whose description ends with the word ``name`` (``"war"``
  matches ``"noisy_labels war"``, not ``"noisy_labels warmup"``) dies at ``step``
  (:class:`Killed`), as a process killed there would.
  """

  def __init__(self, monkeypatch):
    from wassml.train import loop  # pylint: disable=g-import-not-at-top
    self.real = loop.train_loop
    self.starts: dict[str, int] = {}
    self.kill: tuple[str, int] | None = None
    monkeypatch.setattr(loop, "train_loop", self)

  def __call__(self, state, step_fn, batch_fn, **kw):
    desc = kw.get("desc", "")
    hit = self.kill is not None and desc.split()[-1:] == [self.kill[0]]
    at = self.kill[1] if hit else None
    out = self.real(state, step_fn, dying(batch_fn, at), **kw)
    self.starts[desc] = out[1]["start_step"]
    return out
