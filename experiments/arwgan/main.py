r"""ARWGAN: a WGAN-GP on data reweighted towards a classifier's mistakes.

  PYTHONPATH=. python -m experiments.arwgan.main \
      --config=experiments/arwgan/configs/quick.py --workdir=runs/arwgan_quick
"""

from experiments import entry
from experiments.arwgan import train

if __name__ == "__main__":
  entry.run(train.train_and_evaluate, "arwgan",
            keys=("uniform", "hard", "soft"))
