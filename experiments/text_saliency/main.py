"""Text Deconvolution Saliency vs z-scores. Usage:

  python -m experiments.text_saliency.main \
      --config=experiments/text_saliency/configs/quick.py --workdir=runs/text_saliency_quick
"""

from absl import app, flags
from ml_collections import config_flags

from experiments.text_saliency import train

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", "experiments/text_saliency/configs/quick.py",
                                "Config file.", lock_config=True)
flags.DEFINE_string("workdir", None, "Output folder.", required=True)


def main(argv):
  del argv
  r = train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  print({k: r[k] for k in ("cnn_accuracy", "cnn_accuracy_per_seed", "zscore_accuracy",
                           "mean_correlation", "max_correlation")})
  if r.get("planted"):
    print({"planted": r["planted"]})


if __name__ == "__main__":
  app.run(main)
