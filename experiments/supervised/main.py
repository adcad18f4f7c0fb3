"""Supervised baseline. Usage:

  python -m experiments.supervised.main --config=experiments/supervised/configs/quick.py \
      --workdir=runs/supervised_quick
"""

from absl import app, flags, logging
from ml_collections import config_flags

from experiments.supervised import train

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", "experiments/supervised/configs/quick.py",
                                "Config file.", lock_config=True)
flags.DEFINE_string("workdir", None, "Output folder.", required=True)


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)  # Orbax is chatty at INFO
  results = train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  print({k: results[k] for k in ("test_accuracy", "test_loss", "steps", "wall_time_s")})


if __name__ == "__main__":
  app.run(main)
