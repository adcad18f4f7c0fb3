r"""A tour of ``wassml.ot`` on a rotated-moons pair.

  PYTHONPATH=. python -m experiments.ot_tour.main \
      --config=experiments/ot_tour/configs/quick.py --workdir=runs/ot_tour_quick
"""

from experiments import entry
from experiments.ot_tour import train

if __name__ == "__main__":
  entry.run(train.train_and_evaluate, "ot_tour",
            keys=())
