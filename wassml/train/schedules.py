"""Learning-rate schedules by name (thin wrappers over Optax)."""

from __future__ import annotations

from typing import Sequence

import optax

SCHEDULES = ("constant", "cosine", "warmup_cosine", "exponential", "piecewise")


def make_schedule(name: str, *, learning_rate: float, num_steps: int, warmup_steps: int = 0,
                  decay_rate: float = 0.1, boundaries: Sequence[int] = (),
                  end_value: float = 0.0) -> optax.Schedule:
  """Returns an Optax schedule ``step -> learning rate``.

  Args:
    name: ``constant``, ``cosine`` (to ``end_value`` over ``num_steps``), ``warmup_cosine``
      (linear warm-up over ``warmup_steps`` then cosine), ``exponential`` (multiplied by
      ``decay_rate`` over ``num_steps``), ``piecewise`` (multiplied by ``decay_rate`` at each of
      ``boundaries``).
    learning_rate: peak / initial rate.
    num_steps: total number of steps.
  """
  if learning_rate <= 0 or num_steps <= 0:
    raise ValueError(f"learning_rate and num_steps must be positive, got {learning_rate}, "
                     f"{num_steps}.")
  if name == "constant":
    return optax.constant_schedule(learning_rate)
  if name == "cosine":
    return optax.cosine_decay_schedule(learning_rate, num_steps,
                                       alpha=end_value / learning_rate)
  if name == "warmup_cosine":
    return optax.warmup_cosine_decay_schedule(0.0, learning_rate, max(warmup_steps, 1),
                                              max(num_steps, warmup_steps + 1), end_value)
  if name == "exponential":
    return optax.exponential_decay(learning_rate, num_steps, decay_rate)
  if name == "piecewise":
    return optax.piecewise_constant_schedule(learning_rate,
                                             {int(b): decay_rate for b in boundaries})
  raise ValueError(f"Unknown schedule {name!r}; valid names: {list(SCHEDULES)}.")
