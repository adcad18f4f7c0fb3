"""Active learning: learning curves, Table 4.2/4.4 forms, query-time benchmark, Wasserstein prototypes.

Usage:

  python -m experiments.active_learning.main --config=experiments/active_learning/configs/quick.py \
      --workdir=runs/active_learning_quick
"""

from absl import app, flags, logging
from ml_collections import config_flags

from experiments.active_learning import train

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", "experiments/active_learning/configs/quick.py", "Config file.",
                                lock_config=True)
flags.DEFINE_string("workdir", None, "Output folder (checkpoints: a killed run resumes).", required=True)


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)  # Orbax is chatty at INFO
  results = train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  print({k: results[k] for k in ("dfal_auc", "random_auc", "full_data_accuracy", "wall_time_s") if k in results})


if __name__ == "__main__":
  app.run(main)
