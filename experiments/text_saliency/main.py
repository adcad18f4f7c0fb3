r"""Text deconvolution saliency vs z-scores.

  PYTHONPATH=. python -m experiments.text_saliency.main \
      --config=experiments/text_saliency/configs/quick.py --workdir=runs/text_saliency_quick
"""

from experiments import entry
from experiments.text_saliency import train

if __name__ == "__main__":
  entry.run(train.train_and_evaluate, "text_saliency",
            keys=("cnn_accuracy", "cnn_accuracy_per_seed", "zscore_accuracy",
                  "mean_correlation", "max_correlation", "planted"))
