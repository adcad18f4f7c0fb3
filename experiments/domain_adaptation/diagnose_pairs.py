r"""Why a source-only model is at (or below) chance on a pair: its predicted-class histogram.

Trains the source-only model of a config (its pre-training phase: ``config.pretrain_steps``
steps on class-balanced source batches) for one seed and writes, per pair, the target-test
accuracy and the histogram of predicted classes on the target test set (and on the source
validation set, for comparison) to ``<workdir>/pair_diagnosis.json``. On the blend pair with the
``fmnist`` config's MLP this shows that the model predicts one class for most textured images,
which gives ~10% on the full target and ~0% on the partial target when that class is absent.

Usage:
  PYTHONPATH=. python -m experiments.domain_adaptation.diagnose_pairs \
      --config=experiments/domain_adaptation/configs/fmnist.py \
      --workdir=experiments/domain_adaptation/results/fmnist_cnn --seed=0
"""

from __future__ import annotations

import json
import os

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
import numpy as np
import optax
from ml_collections import config_flags

from experiments.domain_adaptation import train
from wassml import domain_adaptation as da
from wassml import train as wtrain


def diagnose(config, pair: str, seed: int) -> dict:
  """Source-only pre-training on ``pair``; accuracy and predicted-class histograms."""
  config = train.pair_config(config, pair)
  key = jax.random.fold_in(jax.random.key(config.seed), seed)
  data = train.load_pair(config, pair, seed)
  k = data["num_classes"]
  tx = optax.adam(config.learning_rate)
  state = wtrain.create_train_state(jax.random.fold_in(key, 0), train.build_model(config, k, False),
                                    jnp.asarray(data["source"].x[:2]), tx)
  state, _ = train.train_method("source_only", state, data, config, jax.random.fold_in(key, 1),
                                steps=config.pretrain_steps, eval_every=None, desc=pair)
  bs = getattr(state, "batch_stats", None)
  out = {}
  for split in ("source_val", "target_test"):
    logits, _ = da.predict(state.apply_fn, state.params, bs, data[split].x)
    pred = logits.argmax(-1)
    out[split] = {"accuracy": float(np.mean(pred == data[split].y)),
                  "predicted_class_fraction": (np.bincount(pred, minlength=k) / len(pred)).tolist(),
                  "true_class_fraction": (np.bincount(data[split].y, minlength=k)
                                          / len(pred)).tolist()}
  out["target_classes"] = np.nonzero(data["present"])[0].tolist()
  return out


def main(argv):
  del argv
  config = _CONFIG.value
  res = {"config": config.to_dict(), "seed": _SEED.value,
         "pairs": {p: diagnose(config, p, _SEED.value) for p in config.pairs}}
  os.makedirs(_WORKDIR.value, exist_ok=True)
  with open(os.path.join(_WORKDIR.value, "pair_diagnosis.json"), "w") as f:
    json.dump(res, f, indent=1)
  for p, r in res["pairs"].items():
    frac = r["target_test"]["predicted_class_fraction"]
    print(f"{p}: target acc {100 * r['target_test']['accuracy']:.1f}%, source-val acc "
          f"{100 * r['source_val']['accuracy']:.1f}%, most predicted target class "
          f"{int(np.argmax(frac))} ({100 * max(frac):.0f}% of predictions)")


if __name__ == "__main__":
  # Flags are defined only when run as a script, so importing this module
  # (tests, colabs) never clashes with another script's flags.
  _CONFIG = config_flags.DEFINE_config_file("config", None, "Path to a config file.")
  _WORKDIR = flags.DEFINE_string("workdir", None, "Where pair_diagnosis.json goes.")
  _SEED = flags.DEFINE_integer("seed", 0, "Seed (data, shift and initialisation).")
  flags.mark_flags_as_required(["config", "workdir"])
  app.run(main)
