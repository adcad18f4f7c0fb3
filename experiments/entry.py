"""The one absl entry point every ``experiments/<name>/main.py`` uses (flax-examples style).

A ``main.py`` is then three lines of logic::

    from experiments import entry
    from experiments.noisy_labels import train

    if __name__ == "__main__":
      entry.run(train.train_and_evaluate, "noisy_labels", keys=("cce", "vat", "war"))

Flags: ``--config`` (an ``ml_collections`` config file; default
``experiments/<name>/configs/quick.py``; overrides such as ``--config.seed=1`` work) and
``--workdir`` (required: where ``results.json`` and the plots go). ``extra_flags`` lets a main
define its own flags before parsing, and ``dispatch`` lets it route to another function of its
``train`` module on one of them.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

FLAGS = flags.FLAGS


def define_flags(name: str) -> None:
  """Defines ``--config`` (default: the experiment's quick config) and ``--workdir``."""
  config_flags.DEFINE_config_file("config", f"experiments/{name}/configs/quick.py",
                                  "Experiment config file.", lock_config=True)
  flags.DEFINE_string("workdir", None, "Where results.json and the plots go.", required=True)


def summary(results: Mapping[str, Any], keys: Sequence[str] | None) -> dict[str, Any]:
  """The entries of ``results`` named by ``keys`` (all of them if ``keys`` is None)."""
  if keys is None:
    return dict(results)
  return {k: results[k] for k in keys if k in results}


def run(train_and_evaluate: Callable[[Any, str], Mapping[str, Any]], name: str, *,
        keys: Sequence[str] | None = (),
        extra_flags: Callable[[], None] | None = None,
        dispatch: Callable[[Any, str], bool] | None = None) -> None:
  """Defines the flags, parses them and runs ``train_and_evaluate(config, workdir)``.

  Args:
    train_and_evaluate: the experiment's ``train.train_and_evaluate``.
    name: the experiment's folder name under ``experiments/``.
    keys: result entries printed at the end (``()``: nothing, ``None``: everything).
    extra_flags: defines the experiment's own flags (called before parsing).
    dispatch: ``dispatch(config, workdir) -> handled``; when it returns True the run stops
      there (e.g. a ``--pairs_only`` mode), otherwise ``train_and_evaluate`` runs.
  """
  define_flags(name)
  if extra_flags is not None:
    extra_flags()

  def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)  # Orbax is chatty at INFO
    if dispatch is not None and dispatch(FLAGS.config, FLAGS.workdir):
      return
    results = train_and_evaluate(FLAGS.config, FLAGS.workdir)
    if keys != ():
      print(summary(results, keys))

  app.run(main)
