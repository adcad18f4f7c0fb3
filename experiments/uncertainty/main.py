r"""Prediction with uncertainty (two heads) and unsupervised feature importance.

  PYTHONPATH=. python -m experiments.uncertainty.main \
      --config=experiments/uncertainty/configs/quick.py --workdir=runs/uncertainty_quick
"""

from experiments import entry
from experiments.uncertainty import train

if __name__ == "__main__":
  entry.run(train.train_and_evaluate, "uncertainty",
            keys=("ood_auroc",))
