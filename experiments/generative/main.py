r"""Generative modelling with minibatch OT losses.

(``train.train_and_evaluate`` runs the Fashion-MNIST generators of ``fmnist.py`` for a config with
``experiment = "fmnist"``, e.g. ``configs/fmnist.py``.)

  PYTHONPATH=. python -m experiments.generative.main \
      --config=experiments/generative/configs/quick.py --workdir=runs/generative_quick
"""

from experiments import entry
from experiments.generative import train

if __name__ == "__main__":
  entry.run(train.train_and_evaluate, "generative",
            keys=())
