"""Wasserstein clustering (WAMiC / GeWaC, DiWaC, model selection). Usage:

  python -m experiments.clustering.main --config=experiments/clustering/configs/quick.py \
      --workdir=runs/clustering_quick
"""

from absl import app, flags, logging
from ml_collections import config_flags

from experiments.clustering import train

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", "experiments/clustering/configs/quick.py",
                                "Config file.", lock_config=True)
flags.DEFINE_string("workdir", None, "Output folder.", required=True)


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  results = train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  print(train.summary_table(results))


if __name__ == "__main__":
  app.run(main)
