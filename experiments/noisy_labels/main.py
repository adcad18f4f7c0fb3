r"""CCE vs VAT vs WAR under label noise.

  PYTHONPATH=. python -m experiments.noisy_labels.main \
      --config=experiments/noisy_labels/configs/quick.py --workdir=runs/noisy_labels_quick
"""

from experiments import entry
from experiments.noisy_labels import train

if __name__ == "__main__":
  entry.run(train.train_and_evaluate, "noisy_labels",
            keys=("cce", "vat", "war"))
