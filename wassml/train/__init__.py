"""Training harness: state, pure steps, sweeps, data parallelism, checkpoints, evaluation, logs."""

from wassml.train.batches import EpochBatches, RandomRows, epoch_indices
from wassml.train.checkpoint import CheckpointError, Checkpointer
from wassml.train.evaluate import EarlyStopping, evaluate, evaluate_classifier, predict
from wassml.train.logs import MetricsWriter, plot_metrics, progress, read_jsonl
from wassml.train.loop import (EXECUTIONS, resolve_execution, run_phase, stack_states,
                               train_loop, unstack_states)
from wassml.train.parallel import (data_parallel, make_mesh, per_shard_mean, replicate,
                                   shard_batch)
from wassml.train.schedules import make_schedule
from wassml.train.state import TrainState, apply_model, create_train_state
from wassml.train.step import classifier_loss, make_step, run_steps
from wassml.train.sweep import sweep

__all__ = [
    "EXECUTIONS", "CheckpointError", "Checkpointer", "EarlyStopping", "EpochBatches",
    "MetricsWriter", "RandomRows", "TrainState", "apply_model", "classifier_loss",
    "create_train_state", "data_parallel", "epoch_indices", "evaluate", "evaluate_classifier",
    "make_mesh", "make_schedule", "make_step", "per_shard_mean", "plot_metrics", "predict",
    "progress", "read_jsonl", "replicate", "resolve_execution", "run_phase", "run_steps",
    "shard_batch", "stack_states", "sweep", "train_loop", "unstack_states",
]
