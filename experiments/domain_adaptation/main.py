r"""Domain adaptation with minibatch OT (DeepJDOT / JUMBOT) against source-only and DANN.

Usage:
  PYTHONPATH=. python -m experiments.domain_adaptation.main \
      --config=experiments/domain_adaptation/configs/quick.py --workdir=runs/da_quick
"""

from experiments import entry
from experiments.domain_adaptation import train

if __name__ == "__main__":
  entry.run(train.train_and_evaluate, "domain_adaptation")
