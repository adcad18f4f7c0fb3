r"""Supervised baseline.

  PYTHONPATH=. python -m experiments.supervised.main \
      --config=experiments/supervised/configs/quick.py --workdir=runs/supervised_quick
"""

from experiments import entry
from experiments.supervised import train

if __name__ == "__main__":
  entry.run(train.train_and_evaluate, "supervised",
            keys=("test_accuracy", "test_loss", "steps", "wall_time_s"))
