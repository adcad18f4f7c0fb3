"""Generative modelling with OT losses.

  python -m experiments.generative.main \
      --config=experiments/generative/configs/quick.py --workdir=runs/generative
  python -m experiments.generative.main \
      --config=experiments/generative/configs/fmnist.py --workdir=runs/generative_fmnist

(``train.train_and_evaluate`` runs the Fashion-MNIST generators of ``fmnist.py`` for a config with
``experiment = "fmnist"``.)
"""

from absl import app, flags
from ml_collections import config_flags

from experiments.generative import train

_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for results.json and figures.")
config_flags.DEFINE_config_file("config", None, "Configuration file.", lock_config=True)
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  del argv
  train.train_and_evaluate(flags.FLAGS.config, _WORKDIR.value)


if __name__ == "__main__":
  app.run(main)
