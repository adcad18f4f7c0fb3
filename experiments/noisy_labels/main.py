r"""Noisy-labels experiment entry point.

  PYTHONPATH=. python -m experiments.noisy_labels.main \
      --config=experiments/noisy_labels/configs/quick.py --workdir=runs/noisy_labels_quick
"""

from absl import app
from absl import flags
from ml_collections import config_flags

from experiments.noisy_labels import train

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Where results.json and the plots go.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  del argv
  results = train.train_and_evaluate(_CONFIG.value, _WORKDIR.value)
  print({k: results[k] for k in ("cce", "vat", "war") if k in results})


if __name__ == "__main__":
  app.run(main)
