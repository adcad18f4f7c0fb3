"""Active learning: learning curves, Table 4.2/4.4 forms, query-time benchmark, Wasserstein prototypes.

Usage:

  python -m experiments.active_learning.main --config=experiments/active_learning/configs/quick.py \
      --workdir=runs/active_learning_quick

A killed run resumes from the checkpoints in ``--workdir``.
"""

from experiments import entry
from experiments.active_learning import train

if __name__ == "__main__":
  entry.run(train.train_and_evaluate, "active_learning",
            keys=("dfal_auc", "random_auc", "full_data_accuracy", "wall_time_s"))
