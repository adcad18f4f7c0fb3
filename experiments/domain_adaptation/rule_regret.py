r"""Which label-free checkpoint rule to declare: its regret against the oracle pick on DEV pairs.

For every (run, dev pair, method, seed) history of earlier committed runs, the regret of a rule is
``max_t acc_target_test(t) - acc_target_test(t_rule)`` (points). Target-test labels are used here,
but only on the dev pairs (``--dev_pairs``), which are not in the table of the run the rule is
declared for. Runs with a degenerate setting can be left out with ``--skip`` (``run:pair``).

Usage:
  PYTHONPATH=. python -m experiments.domain_adaptation.rule_regret \
      --runs=fmnist_cnn,fmnist_cnn_partial_rho1,fmnist_cnn_confirm \
      --dev_pairs=fmnist_blend,fmnist_blend_partial --skip=fmnist_cnn:fmnist_blend_partial \
      --out=experiments/domain_adaptation/results/fmnist_photo/rule_regret_dev.json
"""

from __future__ import annotations

import json
import os

from absl import app
from absl import flags
import numpy as np

from wassml import domain_adaptation as da

_ROOT = "experiments/domain_adaptation/results"


def regrets(histories, rules=da.SELECTION_RULES) -> dict[str, list[float]]:
  """``{rule: [regret per history]}`` for histories with ``target_test_acc`` and the rules' keys."""
  out = {r: [] for r in rules}
  for h in histories:
    acc = h["target_test_acc"]
    for r in rules:
      out[r].append(max(acc) - acc[da.select_index(h, r)])
  return out


def main(argv):
  del argv
  rows = []
  for run in _RUNS.value:
    with open(os.path.join(_ROOT, run, "results.json")) as f:
      res = json.load(f)
    for pair, by_method in res["runs"].items():
      if pair not in _DEV.value or f"{run}:{pair}" in _SKIP.value:
        continue
      for m, by_seed in by_method.items():
        for s, r in by_seed.items():
          rows.append((run, pair, m, s, r["history"]))
  reg = regrets([r[-1] for r in rows])
  by_method = {}
  for i, (_, _, m, _, _) in enumerate(rows):
    for rule, v in reg.items():
      by_method.setdefault(m, {}).setdefault(rule, []).append(v[i])
  out = {"runs": _RUNS.value, "dev_pairs": _DEV.value, "skipped": _SKIP.value,
         "num_histories": len(rows),
         "mean_regret_points": {r: 100 * float(np.mean(v)) for r, v in reg.items()},
         "mean_regret_points_by_method": {m: {r: 100 * float(np.mean(v)) for r, v in d.items()}
                                          for m, d in by_method.items()}}
  os.makedirs(os.path.dirname(_OUT.value), exist_ok=True)
  with open(_OUT.value, "w") as f:
    json.dump(out, f, indent=1)
  print(json.dumps(out, indent=1))


if __name__ == "__main__":
  # Flags are defined only when run as a script, so importing this module
  # (tests, colabs) never clashes with another script's flags.
  _RUNS = flags.DEFINE_list("runs", [], "Run folders under experiments/domain_adaptation/results.")
  _DEV = flags.DEFINE_list("dev_pairs", [], "Pairs whose target labels may be used.")
  _SKIP = flags.DEFINE_list("skip", [], "run:pair entries to leave out.")
  _OUT = flags.DEFINE_string("out", None, "Where the JSON goes.")
  app.run(main)
