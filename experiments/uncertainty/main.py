r"""Uncertainty and feature-importance experiment entry point.

  PYTHONPATH=. python -m experiments.uncertainty.main \
      --config=experiments/uncertainty/configs/quick.py --workdir=runs/uncertainty_quick
"""

from absl import app
from absl import flags
from ml_collections import config_flags

from experiments.uncertainty import train

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Where results.json and the plots go.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  del argv
  results = train.train_and_evaluate(_CONFIG.value, _WORKDIR.value)
  print(results["ood_auroc"], results["feature_importance"]["synthetic"])


if __name__ == "__main__":
  app.run(main)
