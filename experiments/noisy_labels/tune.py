r"""Hyper-parameter selection for the noisy-labels experiment, on a validation split -- never the test set.

  PYTHONPATH=. python -m experiments.noisy_labels.tune \
      --config=experiments/noisy_labels/configs/cpu_v3.py --workdir=experiments/noisy_labels/results/tune_v3

For every method in ``config.tune.grid`` (a mapping ``method -> {config key -> tuple of values}``)
every point of the cartesian product is trained on ``config.tune.noise`` with
``config.tune.num_seeds`` seeds and scored on a **clean validation split of the training set**
(``eval_split="validation"``: the last ``config.tune.num_val`` training images, disjoint from the
first ``num_train`` used for training; their labels are never corrupted). The score is the mean
validation accuracy over the last ``config.tune.last_epochs`` epochs (the experiment reports the
last epoch; averaging a few epochs lowers the noise of a one-seed score).

``config.tune.base`` (optional) is applied first: the settings the sweep starts from. ``beta``
and ``radius`` are set for the tuned method only (``config.beta[method]``); any other key
(``epsilon``, ``cost_floor``, ``war_debiased``, ...) is set on the config directly. Points run one
after another (each compiles its own step: the radius and the divergence are static). Writes ``tune.json`` after every point (a
crashed sweep keeps what it did) and ``tune.md`` (table, best point per method) at the end.
Each point checkpoints under ``<workdir>/points/<index>_<method>``: a sweep killed and started
again with the same workdir restores the finished points and resumes the interrupted one.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import time
from typing import Any

import ml_collections
import numpy as np
from absl import app
from absl import flags
from ml_collections import config_flags

from experiments.noisy_labels import train


# Settings that the config may give per method (a float or {"vat": .., "war": ..}).
PER_METHOD = ("beta", "radius")


def grid_points(grid: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
  """``[(method, {key: value})]``: the cartesian product of each method's grid.

  A method's grid is ``{key: values}`` or a list of such blocks (their products, concatenated).
  """
  out = []
  for method, blocks in grid.items():
    if method not in train.METHODS:
      raise ValueError(f"unknown method {method!r} in tune.grid; valid: {train.METHODS}.")
    for axes in ([blocks] if hasattr(blocks, "keys") else list(blocks)):
      keys = list(axes)
      for values in itertools.product(*(tuple(axes[k]) for k in keys)):
        out.append((method, dict(zip(keys, values))))
  return out


def point_config(config: ml_collections.ConfigDict, method: str,
                 point: dict[str, Any]) -> ml_collections.ConfigDict:
  """The config of one grid point: one method, validation split, the point's values set."""
  t = config.tune
  d = copy.deepcopy(config).to_dict()
  d.update(dict(t.get("base", None) or {}))  # The settings the sweep starts from.
  c = ml_collections.ConfigDict(d)
  c.methods = (method,)
  c.eval_split = "validation"
  c.num_test = int(t.num_val)
  c.num_seeds = int(t.num_seeds)
  c.noise = (tuple(t.noise),)
  c.progress = False
  for k, v in point.items():
    if k in PER_METHOD:
      old = c[k]
      values = dict(old) if hasattr(old, "keys") else {m: old for m in ("vat", "war")}
      values[method] = float(v)
      d = c.to_dict()  # ConfigDict fields keep their type: rebuild to turn a float into a map.
      d[k] = values
      c = ml_collections.ConfigDict(d)
    elif k not in c:
      raise ValueError(f"tune.grid key {k!r} is not a config key.")
    else:
      c[k] = v
  return c


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Trains every grid point and scores it on the validation split; writes tune.json/tune.md."""
  os.makedirs(workdir, exist_ok=True)
  t = config.tune
  kind, rate = t.noise
  points = grid_points(t.grid.to_dict() if hasattr(t.grid, "to_dict") else dict(t.grid))
  if config.get("tune_stage"):
    print(f"tuning stage {config.tune_stage!r}: {len(points)} points", flush=True)
  rows: list[dict[str, Any]] = []
  t0 = time.time()
  data = None
  for i, (method, point) in enumerate(points):
    c = point_config(config, method, point)
    if data is None:
      data = train._load(c)  # pylint: disable=protected-access
    xtr, ytr, xva, yva, k = data
    out = train.run_setting(c, kind, float(rate), xtr, ytr, xva, yva, k,
                            workdir=os.path.join(workdir, "points", f"{i:03d}_{method}"))[method]
    curve = np.asarray(out["curve_mean"])
    row = {"method": method, **point,
           "score": float(curve[-int(t.last_epochs):].mean()),
           "last": float(curve[-1]), "per_seed_last": out["per_seed"],
           "val_curve": curve.tolist(),
           "train_acc_noisy_last": out["train_acc_noisy_curve"][-1]}
    rows.append(row)
    print(f"[{i + 1}/{len(points)}] {method} {point}: val score {row['score']:.2f} "
          f"(last {row['last']:.2f}), {time.time() - t0:.0f} s", flush=True)
    with open(os.path.join(workdir, "tune.json"), "w") as f:
      json.dump({"rows": rows, "config": config.to_dict(), "seconds": time.time() - t0}, f,
                indent=1, default=lambda o: np.asarray(o).tolist())
  best = {}
  for method in dict.fromkeys(r["method"] for r in rows):
    mine = [r for r in rows if r["method"] == method]
    best[method] = max(mine, key=lambda r: r["score"])
  with open(os.path.join(workdir, "tune.json"), "w") as f:
    json.dump({"rows": rows, "best": best, "config": config.to_dict(),
               "seconds": time.time() - t0}, f, indent=1,
              default=lambda o: np.asarray(o).tolist())
  with open(os.path.join(workdir, "tune.md"), "w") as f:
    f.write(table(rows, best))
  return {"rows": rows, "best": best}


def table(rows: list[dict[str, Any]], best: dict[str, Any]) -> str:
  """Markdown table of the grid (validation accuracy %), best point per method marked."""
  skip = {"method", "score", "last", "per_seed_last", "val_curve", "train_acc_noisy_last"}
  keys = list(dict.fromkeys(k for r in rows for k in r if k not in skip))
  lines = ["| method | " + " | ".join(keys) + " | val score | val last | noisy train acc | best |",
           "|" + "---|" * (len(keys) + 5)]
  for r in rows:
    mark = "**best**" if best.get(r["method"]) is r else ""
    lines.append(f"| {r['method']} | " + " | ".join(str(r.get(k, "")) for k in keys)
                 + f" | {r['score']:.2f} | {r['last']:.2f} | {r['train_acc_noisy_last']:.1f} | "
                 f"{mark} |")
  return "\n".join(lines) + "\n"


def report(workdir: str) -> dict[str, Any]:
  """Rebuilds ``best`` and ``tune.md`` from ``tune.json`` (e.g. of a sweep stopped early)."""
  path = os.path.join(workdir, "tune.json")
  with open(path) as f:
    saved = json.load(f)
  rows = saved["rows"]
  best = {m: max((r for r in rows if r["method"] == m), key=lambda r: r["score"])
          for m in dict.fromkeys(r["method"] for r in rows)}
  saved["best"] = best
  with open(path, "w") as f:
    json.dump(saved, f, indent=1)
  with open(os.path.join(workdir, "tune.md"), "w") as f:
    f.write(table(rows, best))
  return saved


def main(argv):
  del argv
  if _REPORT_ONLY.value:
    report(_WORKDIR.value)
  else:
    run(_CONFIG.value, _WORKDIR.value)


if __name__ == "__main__":
  # Flags are defined only when run as a script, so importing this module
  # (tests, colabs) never clashes with another script's flags.
  _CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file (with .tune).")
  _WORKDIR = flags.DEFINE_string("workdir", None, "Where tune.json and tune.md go.")
  _REPORT_ONLY = flags.DEFINE_bool(
      "report_only", False, "Only rebuild tune.md (and the best points) from workdir/tune.json.")
  flags.mark_flags_as_required(["workdir"])
  app.run(main)
