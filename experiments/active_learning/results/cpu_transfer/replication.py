"""Prints how this run's loops compare with results/cpu's (same config, rerun): per-seed and mean.

  python experiments/active_learning/results/cpu_transfer/replication.py
"""

import json
import pathlib

import numpy as np

HERE = pathlib.Path(__file__).parent


def main():
  new = json.loads((HERE / "results.json").read_text())["curves"]
  old = json.loads((HERE.parent / "cpu" / "results.json").read_text())["curves"]
  for name in ("random", "dfal", "coreset"):
    a, b = np.asarray(new[name]["accuracy_per_seed"]), np.asarray(old[name]["accuracy_per_seed"])
    print(f"{name}: max |per-seed difference| over rounds {np.abs(a - b).max():.4f}; "
          f"mean at {new[name]['num_labels'][-1]} labels: this run {a[:, -1].mean():.4f}, results/cpu {b[:, -1].mean():.4f}")


if __name__ == "__main__":
  main()
