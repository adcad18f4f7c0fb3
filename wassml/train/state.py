"""Train state with batch statistics, its creation, and applying a model through it."""

from __future__ import annotations

from typing import Any

import flax
import flax.linen as nn
import jax
import optax
from flax.training import train_state


class TrainState(train_state.TrainState):
  """``flax.training.train_state.TrainState`` plus ``batch_stats`` (empty dict when unused).

  It is a pytree: several states can be combined in a ``flax.struct.dataclass`` and stepped
  together in one jitted function (see ``docs/harness.md``).
  """

  batch_stats: Any = flax.struct.field(default_factory=dict)


def create_train_state(rng: jax.Array, model: nn.Module, example_input: Any,
                       tx: optax.GradientTransformation, **init_kwargs: Any) -> TrainState:
  """Initialises ``model`` on ``example_input`` and wraps it with the optimiser ``tx``.

  Args:
    rng: a ``jax.random.key`` (split into the ``'params'`` and ``'dropout'`` streams).
    model: a Flax linen module whose ``__call__`` accepts ``train``.
    example_input: an input batch (only its shapes matter), e.g. ``x[:1]``.
    tx: an Optax optimiser.
    **init_kwargs: extra keyword arguments of ``model.__call__`` at init.

  Returns:
    A :class:`TrainState` with ``step = 0``.
  """
  k_params, k_dropout = jax.random.split(rng)
  variables = model.init({"params": k_params, "dropout": k_dropout}, example_input, train=False,
                         **init_kwargs)
  return TrainState.create(apply_fn=model.apply, params=variables["params"], tx=tx,
                           batch_stats=variables.get("batch_stats", {}))


def apply_model(state: Any, params: Any, x: Any, rng: jax.Array | None = None, *,
                train: bool = False, batch_stats: Any = None, **kwargs: Any
                ) -> tuple[Any, Any]:
  """Applies ``state.apply_fn`` with ``params`` (the ones being differentiated).

  In training mode, dropout draws from ``rng`` and batch norm uses batch statistics and
  returns updated running averages.

  Args:
    state: the TrainState (for ``apply_fn`` and, by default, ``batch_stats``), or a module's
      ``apply`` function (then pass ``batch_stats`` if the model has batch norm).
    params: parameters to use (``state.params`` or the ones under ``jax.grad``).
    x: model input.
    rng: key for dropout (required when ``train`` and the model has dropout).
    train: training mode.
    batch_stats: batch statistics to use instead of ``state.batch_stats``.
    **kwargs: passed to the model (e.g. ``return_features=True``).

  Returns:
    ``(output, new_batch_stats)``; ``new_batch_stats`` is unchanged outside training.
  """
  apply_fn = getattr(state, "apply_fn", state)
  bs = getattr(state, "batch_stats", {}) if batch_stats is None else batch_stats
  variables = {"params": params}
  if bs:
    variables["batch_stats"] = bs
  rngs = {"dropout": rng} if rng is not None else {}
  if train and bs:
    out, updates = apply_fn(variables, x, train=True, rngs=rngs, mutable=["batch_stats"],
                                  **kwargs)
    return out, updates["batch_stats"]
  return apply_fn(variables, x, train=train, rngs=rngs, **kwargs), bs
