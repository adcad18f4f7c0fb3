r"""Label-free choice of JUMBOT's rho on a partial-DA pair: the smallest rho whose plan stays alive.

Partial DA wants loose marginals (small rho: the plan may drop the source classes absent from the
target, seed 004's partial-DA section), but too small a rho empties the plan: destroying mass
becomes cheaper than transporting it, the OT term is zero and JUMBOT is source-only training
(``../results/fmnist_cnn/``: rho = 0.3 on ``fmnist_blend_partial``, plan mass 0.000 at every
step). The rule, fixed before the candidate runs: among the candidate runs (one rho each), keep
those whose JUMBOT training plan mass (``train_plan_mass``, the mean total plan mass over the last
evaluation interval) is at least ``--min_mass`` on *every* seed, and pick the smallest rho. It reads
no target label and no accuracy.

Usage:
  PYTHONPATH=. python -m experiments.domain_adaptation.choose_rho --pair=fmnist_photo_partial \
      --runs=fmnist_photo,fmnist_photo_partial_rho03 \
      --out=experiments/domain_adaptation/results/fmnist_photo/rho_choice.json
"""

from __future__ import annotations

import json
import os

from absl import app
from absl import flags

_ROOT = "experiments/domain_adaptation/results"


def rho_of(res: dict, pair: str) -> float:
  """The rho a run used on ``pair`` (its per-pair override, else the run's rho)."""
  over = (res["config"].get("pair_overrides") or {}).get(pair) or {}
  return float(over.get("rho", res["config"]["rho"]))


def choose(candidates: dict[str, dict], pair: str, min_mass: float) -> dict:
  """``candidates``: run name -> results.json. Returns the per-run evidence and the choice."""
  rows = {}
  for run, res in candidates.items():
    by_seed = res["runs"][pair]["jumbot"]
    last_mass = {s: r["history"]["train_plan_mass"][-1] for s, r in by_seed.items()}
    rows[run] = {"rho": rho_of(res, pair), "last_plan_mass_per_seed": last_mass,
                 "alive": all(m >= min_mass for m in last_mass.values())}
  alive = [r for r in rows if rows[r]["alive"]]
  chosen = min(alive, key=lambda r: rows[r]["rho"]) if alive else None
  return {"pair": pair, "min_mass": min_mass, "candidates": rows, "chosen_run": chosen,
          "chosen_rho": rows[chosen]["rho"] if chosen else None}


def main(argv):
  del argv
  cands = {}
  for run in _RUNS.value:
    with open(os.path.join(_ROOT, run, "results.json")) as f:
      cands[run] = json.load(f)
  out = choose(cands, _PAIR.value, _MIN_MASS.value)
  os.makedirs(os.path.dirname(_OUT.value), exist_ok=True)
  with open(_OUT.value, "w") as f:
    json.dump(out, f, indent=1)
  print(json.dumps(out, indent=1))


if __name__ == "__main__":
  # Flags are defined only when run as a script, so importing this module
  # (tests, colabs) never clashes with another script's flags.
  _PAIR = flags.DEFINE_string("pair", None, "The partial-DA pair.")
  _RUNS = flags.DEFINE_list("runs", [], "Run folders under experiments/domain_adaptation/results.")
  _MIN_MASS = flags.DEFINE_float("min_mass", 0.1, "A plan with less total mass is 'empty'.")
  _OUT = flags.DEFINE_string("out", None, "Where the JSON goes.")
  app.run(main)
