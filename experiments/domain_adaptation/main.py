r"""Domain adaptation with minibatch OT (DeepJDOT / JUMBOT) against source-only and DANN.

Usage:
  PYTHONPATH=. python -m experiments.domain_adaptation.main \
      --config=experiments/domain_adaptation/configs/quick.py --workdir=runs/da_quick
"""

from absl import app
from absl import flags
from ml_collections import config_flags

from experiments.domain_adaptation import train

_CONFIG = config_flags.DEFINE_config_file("config", None, "Path to a config file.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for results.json and plots.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  del argv
  train.train_and_evaluate(_CONFIG.value, _WORKDIR.value)


if __name__ == "__main__":
  app.run(main)
