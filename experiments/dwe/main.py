"""Deep Wasserstein Embedding. Usage:

  python -m experiments.dwe.main --config=experiments/dwe/configs/quick.py --workdir=runs/dwe_quick
"""

from absl import app, flags, logging
from ml_collections import config_flags

from experiments.dwe import train

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", "experiments/dwe/configs/quick.py", "Config file.",
                                lock_config=True)
flags.DEFINE_string("workdir", None, "Output folder.", required=True)
flags.DEFINE_enum("pairs_only", "", ["", "all", "main", "cross"],
                  "Only generate (and checkpoint) the exact W2 pairs of this part, then exit.")
flags.DEFINE_bool("cross_only", False,
                  "Only run the cross-dataset table (writes <workdir>/cross_dataset.json).")


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)  # Orbax is chatty at INFO
  if FLAGS.cross_only:
    res = train.cross_dataset_only(FLAGS.config, FLAGS.workdir)
    print({"mse": res["mse"], "correlation": res["correlation"]})
    return
  if FLAGS.pairs_only:
    train.generate_all_pairs(FLAGS.config, FLAGS.workdir, FLAGS.pairs_only)
    return
  results = train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  print({k: results[k] for k in ("test_mse", "test_relative_mse", "test_correlation",
                                 "wall_time_s")})


if __name__ == "__main__":
  app.run(main)
