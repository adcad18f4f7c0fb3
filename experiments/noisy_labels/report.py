r"""Writes the results table (markdown) of a noisy-labels run from its results.json.

  PYTHONPATH=. python -m experiments.noisy_labels.report --workdir=experiments/noisy_labels/results/mid
"""

from __future__ import annotations

import json
import os

from absl import app
from absl import flags


# The seed's table (004, Fashion-MNIST, full data, 120 epochs): test accuracy %.
SEED_TABLE = {"symmetric_20": {"cce": 89.02, "vat": 93.10, "war": 93.37},
              "symmetric_40": {"cce": 78.85, "vat": 89.74, "war": 90.41}}


def table(results: dict) -> str:
  """Markdown table: mean +- std over seeds per setting and method, beside the seed's numbers."""
  methods = [m for m in ("cce", "vat", "war") if m in next(iter(results["settings"].values()))]
  head = "| noise | " + " | ".join(m.upper() for m in methods) + " | seed's CCE / VAT / WAR |"
  lines = [head, "|" + "---|" * (len(methods) + 2)]
  for name, s in results["settings"].items():
    cells = [f"{s[m]['mean']:.2f} ± {s[m]['std']:.2f}" for m in methods]
    ref = SEED_TABLE.get(name)
    ref_s = " / ".join(f"{ref[m]:.2f}" for m in ("cce", "vat", "war")) if ref else "—"
    lines.append(f"| {name} | " + " | ".join(cells) + f" | {ref_s} |")
  return "\n".join(lines)


def targets(results: dict) -> str:
  """The issue's targets, checked on the numbers."""
  out = []
  for name, s in results["settings"].items():
    if not all(m in s for m in ("cce", "vat", "war")):
      continue
    c, v, w = (s[m]["mean"] for m in ("cce", "vat", "war"))
    out.append(f"- {name}: CCE < VAT: {'yes' if c < v else 'NO'} ({c:.2f} vs {v:.2f}); "
               f"VAT <= WAR: {'yes' if v <= w else 'NO'} ({v:.2f} vs {w:.2f}); "
               f"WAR - CCE = {w - c:+.2f} points")
  s40 = results["settings"].get("symmetric_40")
  if s40 and "war" in s40 and "cce" in s40:
    gap = s40["war"]["mean"] - s40["cce"]["mean"]
    out.append(f"- WAR >= CCE + 10 at 40% symmetric noise: {'yes' if gap >= 10 else 'NO'} "
               f"({gap:+.2f} points)")
  for name, ref in SEED_TABLE.items():
    if name in results["settings"] and "war" in results["settings"][name]:
      got = results["settings"][name]["war"]["mean"]
      out.append(f"- moonshot WAR >= seed ({name}): {'yes' if got >= ref['war'] else 'NO'} "
                 f"({got:.2f} vs {ref['war']:.2f})")
  return "\n".join(out)


def memorisation(results: dict) -> str:
  """Last-epoch accuracy on the noisy training labels (runs that recorded it): above
  ``1 - noise rate`` means the model fits the wrong labels."""
  lines = []
  for name, s in results["settings"].items():
    cells = [f"{m.upper()} {s[m]['train_acc_noisy_curve'][-1]:.1f}"
             for m in ("cce", "vat", "war") if m in s and "train_acc_noisy_curve" in s[m]]
    if cells:
      lines.append(f"- {name}: " + ", ".join(cells))
  if not lines:
    return ""
  return ("\nAccuracy (%) on the noisy training labels, last epoch (mean over seeds):\n"
          + "\n".join(lines) + "\n")


def per_seed(results: dict) -> str:
  """Last-epoch test accuracy of every seed, per setting and method."""
  lines = []
  for name, s in results["settings"].items():
    cells = [f"{m.upper()} " + ", ".join(f"{a:.2f}" for a in s[m]["per_seed"])
             for m in ("cce", "vat", "war") if m in s]
    lines.append(f"- {name}: " + "; ".join(cells))
  return "\nPer seed (last-epoch test accuracy %):\n" + "\n".join(lines) + "\n"


def main(argv):
  del argv
  with open(os.path.join(_WORKDIR.value, "results.json")) as f:
    results = json.load(f)
  text = (table(results) + "\n\n" + targets(results) + "\n" + memorisation(results)
          + per_seed(results))
  if not results.get("complete", True):
    text = "**Incomplete run** (stopped before every noise setting finished).\n\n" + text
  with open(os.path.join(_WORKDIR.value, "table.md"), "w") as f:
    f.write(text)
  print(text)


if __name__ == "__main__":
  # Flags are defined only when run as a script, so importing this module
  # (tests, colabs) never clashes with another script's flags.
  _WORKDIR = flags.DEFINE_string("workdir", None, "A run's workdir (holds results.json).")
  flags.mark_flags_as_required(["workdir"])
  app.run(main)
