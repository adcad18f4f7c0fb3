"""Wasserstein clustering (WAMiC / GeWaC, DiWaC, model selection). Usage:

  python -m experiments.clustering.main --config=experiments/clustering/configs/quick.py \
      --workdir=runs/clustering_quick
"""

from experiments import entry
from experiments.clustering import train


def _train_and_print(config, workdir: str):
  results = train.train_and_evaluate(config, workdir)
  print(train.summary_table(results))
  return results


if __name__ == "__main__":
  entry.run(_train_and_print, "clustering")
