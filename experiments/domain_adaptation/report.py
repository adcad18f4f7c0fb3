r"""Writes a results README.md from a run's ``results.json`` (or a ``bench.json``), so that every
number in the committed README comes from the run itself.

Usage:
  PYTHONPATH=. python -m experiments.domain_adaptation.report \
      --results=experiments/domain_adaptation/results/fmnist \
      --command="PYTHONPATH=. python -m experiments.domain_adaptation.main --config=... --workdir=..."
"""

from __future__ import annotations

import json
import os

import numpy as np

from absl import app
from absl import flags


LABELS = {"source_only": "source-only", "dann": "DANN", "deepjdot": "DeepJDOT",
          "entropic_deepjdot": "entropic DeepJDOT", "jumbot": "JUMBOT"}


def _pct(x):
  return f"{100 * x:.1f}"


def _machine(res):
  m = res.get("machine", {})
  return (f"{m.get('platform', '?')}, processor '{m.get('processor', '?')}', "
          f"{m.get('cpu_count', '?')} CPUs visible (shared with other jobs), JAX backend "
          f"{m.get('jax_backend', '?')}, devices {m.get('devices', '?')}")


_STATS = {"mean": "selected without target labels (the run's rule)",
          "last_mean": "last checkpoint (fixed training length, no selection)",
          "selected_by_reverse_val_mean": "reverse-validation pick",
          "selected_by_source_val_mean": "source-validation pick",
          "oracle_target_test_mean": "oracle pick on target test (uses target labels)"}


def target_checks(res, stat: str = "mean") -> list[str]:
  """The issue's targets, evaluated on one statistic of ``res['table']`` (default: selected)."""
  table = res["table"]
  lines = []
  margins = {}
  for pair, by in table.items():
    if not {"jumbot", "deepjdot", "source_only"} <= set(by):
      continue
    j, d, s = by["jumbot"][stat], by["deepjdot"][stat], by["source_only"][stat]
    margins[pair] = j - max(d, s)
    lines.append(f"- `{pair}`: JUMBOT >= DeepJDOT: **{j >= d}** ({_pct(j)} vs {_pct(d)}); "
                 f"DeepJDOT > source-only: **{d > s}** ({_pct(d)} vs {_pct(s)}); "
                 f"JUMBOT > source-only: **{j > s}**.")
    if pair == "digits_to_mnist":  # issue #26's targets on real digits
      lines.append(f"- `{pair}` (#26): DeepJDOT >= source-only + 10 points: **{d >= s + 0.1}** "
                   f"({_pct(d)} vs {_pct(s)}); JUMBOT >= 90%: **{j >= 0.9}** ({_pct(j)}); "
                   f"the seed's 98.2 (real USPS, 7,291 images): **{j >= 0.982}**.")
  if not lines:
    lines.append("- Not evaluated: needs source-only, DeepJDOT and JUMBOT in the same run.")
  partial = [p for p in margins if "partial" in p]
  if partial and len(margins) > 1:
    best = max(margins, key=margins.get)
    lines.append(f"- JUMBOT's margin over the best of DeepJDOT/source-only is largest on "
                 f"partial DA: **{best in partial}** (margins, points: "
                 + ", ".join(f"{p} {100 * m:+.1f}" for p, m in margins.items()) + ").")
  return lines


def other_checkpoint_checks(res) -> list[str]:
  """:func:`target_checks` on the other checkpoints (secondary: not the run's declared rule)."""
  out = []
  any_row = next(iter(next(iter(res["table"].values())).values()))
  for stat, label in _STATS.items():
    if stat == "mean" or stat not in any_row or (stat == "last_mean"
                                                  and res.get("selection") == "last"):
      continue
    out += ["", f"On the {label}:", ""] + target_checks(res, stat)
  return out


def substituted(res, supp) -> tuple[dict, list[str]]:
  """``res`` with the methods of a supplementary run ``supp`` replacing this run's, per pair.

  Only pairs whose source-only per-seed accuracies are identical in both runs are substituted
  (same seeds, data order and pre-trained start: a paired comparison); returns the merged
  results and one line per pair saying what was done.
  """
  merged = {"table": {p: dict(by) for p, by in res["table"].items()},
            "config": res.get("config"), "selection": res.get("selection"), "swapped": {}}
  notes = []
  for pair, by in supp["table"].items():
    if pair not in res["table"]:
      notes.append(f"- `{pair}`: not in this run; not merged.")
      continue
    same = ("source_only" in by and "source_only" in res["table"][pair]
            and by["source_only"]["per_seed"] == res["table"][pair]["source_only"]["per_seed"])
    if not same:
      notes.append(f"- `{pair}`: source-only rows differ between the runs; not merged.")
      continue
    swapped = [m for m in by if m != "source_only"]
    merged["table"][pair].update({m: by[m] for m in swapped})
    merged["swapped"][pair] = swapped
    notes.append(f"- `{pair}`: source-only per-seed accuracies identical in both runs (paired); "
                 f"{', '.join(LABELS.get(m, m) for m in swapped)} taken from the supplementary "
                 "run.")
  return merged, notes


def _load_supplement(folder: str) -> tuple[dict, str]:
  with open(os.path.join(folder, "results.json")) as f:
    supp = json.load(f)
  return supp, os.path.basename(os.path.normpath(folder))


def _merged_checks(merged) -> list[str]:
  """:func:`target_checks` on every statistic of a merged table; the run's rule first (the
  ``last`` statistic is skipped when it *is* the run's rule)."""
  out = []
  row = next(iter(next(iter(merged["table"].values())).values()))
  for stat, label in _STATS.items():
    if stat not in row or (stat == "last_mean" and merged.get("selection") == "last"):
      continue
    if stat == "mean":
      label += (" = the last checkpoint, declared before the run"
                if merged.get("selection") == "last" else "")
    out += ["", f"On the {label}:", ""] + target_checks(merged, stat)
    if stat == "mean":
      out += ["", "Secondary (rules not declared before the run; shown so that the effect of the "
              "selection rule is visible):"]
  return out


def accuracy_table(res, methods, marked=None) -> list[str]:
  """Markdown table of mean ± std per (pair, method); cells in ``marked[pair]`` get a dagger."""
  marked = marked or {}
  out = ["| pair | " + " | ".join(LABELS.get(m, m) for m in methods) + " |",
         "|---|" + "---|" * len(methods)]
  for pair, by in res["table"].items():
    out.append(f"| {pair} | " + " | ".join(
        f"{_pct(by[m]['mean'])} ± {_pct(by[m]['std'])}"
        + (" †" if m in marked.get(pair, ()) else "") for m in methods) + " |")
  return out


def final_section(res, folder: str) -> list[str]:
  """This run with a supplementary run's methods in place of its own on the supplement's pairs
  (paired by seed, see :func:`substituted`): the table, the paired differences and the checks."""
  supp, name = _load_supplement(folder)
  merged, notes = substituted(res, supp)
  cfg = supp["config"]
  over = ", ".join(f"{k}={cfg[k]}" for k in ("rho", "epsilon", "eta1", "eta2")
                   if cfg.get(k) != res["config"].get(k))
  out = ["", f"## Final table: this run with `../{name}/` in place of its rows on "
         + ", ".join(f"`{p}`" for p in merged["swapped"]), "",
         f"Cells marked † come from the supplementary run `../{name}/` (config `{cfg['name']}`"
         + (f"; {over}" if over else "") + "); every other cell is this run's. The supplementary "
         "run reran source-only as its paired baseline:", ""] + notes
  out += ["", "Target test accuracy (%), mean ± std over seeds, at this run's rule "
          f"(`{res['selection']}`):", ""]
  out += accuracy_table(merged, res["config"]["methods"], merged["swapped"])
  out += paired_differences(merged)
  out += ["", "The issue's targets on this table:"] + _merged_checks(merged)
  return out


def supplement_section(res, folder: str, final: bool = False) -> list[str]:
  """A supplementary run (e.g. another rho on one pair): its table and the merged checks
  (or, for the ``final`` supplement, a pointer to the final section that holds them)."""
  supp, name = _load_supplement(folder)
  cfg = supp["config"]
  out = ["", f"## Supplementary run `../{name}/` (config `{cfg['name']}`)", "",
         f"- Date (UTC, end of run): {supp['date_utc']}; wall time {supp['wall_seconds']:.0f} s;"
         f" methods {cfg['methods']}; eta1={cfg['eta1']}, eta2={cfg['eta2']}, "
         f"eps={cfg['epsilon']}, rho={cfg['rho']}"
         + ("; per-pair " + str(cfg["pair_overrides"]) if cfg.get("pair_overrides") else "")
         + ".", "",
         "| pair | method | selected | last | reverse-val | oracle (target test) |",
         "|---|---|---|---|---|---|"]
  for pair, by in supp["table"].items():
    for m, r in by.items():
      out.append(f"| {pair} | {LABELS.get(m, m)} | {_pct(r['mean'])} ± {_pct(r['std'])} | "
                 f"{_pct(r['last_mean'])} | {_pct(r.get('selected_by_reverse_val_mean', 0))} | "
                 f"{_pct(r['oracle_target_test_mean'])} |")
  if final:
    return out + ["", "Its rows replace this run's in the *Final table* section above (the "
                  "issue's targets with them are checked there)."]
  merged, notes = substituted(res, supp)
  out += ["", "The issue's targets with the supplementary run's methods in place of this run's "
          "(same pairs):", ""] + notes
  return out + _merged_checks(merged)


_COLUMN_LABELS = {"last_mean": "last", "selected_by_source_val_mean": "source-val",
                  "selected_by_reverse_val_mean": "reverse-val",
                  "oracle_target_test_mean": "oracle (target test)"}


def _other_columns(res) -> list[tuple[str, str]]:
  """``(table key, label)`` of the checkpoints other than the run's rule, oracle last."""
  row = next(iter(next(iter(res["table"].values())).values()))
  return [(k, v) for k, v in _COLUMN_LABELS.items()
          if k in row and not (k == "last_mean" and res["selection"] == "last")]


def paired_differences(res) -> list[str]:
  """Per-seed differences JUMBOT - DeepJDOT and DeepJDOT - source-only at the run's rule.

  The methods of a (pair, seed) start from the same pre-trained model and see the same batches,
  so the per-seed differences are paired.
  """
  out = []
  for pair, by in res["table"].items():
    if not {"jumbot", "deepjdot", "source_only"} <= set(by):
      continue
    j, d, s = (np.asarray(by[m]["per_seed"]) for m in ("jumbot", "deepjdot", "source_only"))
    out.append(f"| {pair} | " + ", ".join(f"{100 * v:+.1f}" for v in j - d) + " | "
               + ", ".join(f"{100 * v:+.1f}" for v in d - s) + " | "
               + ", ".join(f"{100 * v:+.1f}" for v in j - s) + " |")
  if not out:
    return []
  return ["", "Paired per-seed differences at the run's rule (points; seeds "
          f"{res['config']['seeds']}):", "",
          "| pair | JUMBOT - DeepJDOT | DeepJDOT - source-only | JUMBOT - source-only |",
          "|---|---|---|---|"] + out


def da_readme(res, command: str, notes: str, supplements=(), final=None, folder: str | None = None) -> str:
  """The README of a run; ``folder`` (the results folder) lists its plots."""
  if final and final not in supplements:
    raise ValueError(f"final_supplement {final!r} is not one of the supplements "
                     f"{list(supplements)}.")
  cfg = res["config"]
  methods = cfg["methods"]
  seeds = cfg["seeds"]
  out = [f"# Domain adaptation results: `{cfg['name']}` config", ""]
  out += ["Generated by `experiments/domain_adaptation/report.py` from `results.json` (no number "
          "typed by hand).", ""]
  out += ["- Command: `" + command + "`" if command else "- Command: see results.json",
          f"- Date (UTC, end of run): {res['date_utc']}; wall time {res['wall_seconds']:.0f} s",
          f"- Machine: {_machine(res)}",
          f"- Seeds: {seeds}; pairs: {cfg['pairs']}; model `{cfg['model']}`; "
          f"{cfg['pretrain_steps']} source-only pre-training steps, then {cfg['steps']} steps "
          f"per method (batch {cfg['per_class']}/class source + same-size target), Adam "
          f"{cfg['learning_rate']}; eta1={cfg['eta1']}, eta2={cfg['eta2']}, eta3={cfg['eta3']}, "
          f"eps={cfg['epsilon']}, rho={cfg['rho']}; exact OT `{cfg.get('exact_method')}`.",
          *([f"- Per-pair settings (override the above on that pair): "
             + "; ".join(f"`{p}`: " + ", ".join(f"{k}={v}" for k, v in o.items())
                         for p, o in cfg["pair_overrides"].items())]
            if cfg.get("pair_overrides") else []),
          (f"- Model selection: the **last** checkpoint (fixed training length, declared "
           f"before the run; no target labels); evaluated every {cfg['eval_every']} steps."
           if res["selection"] == "last" else
           f"- Model selection: checkpoint with the best **{res['selection']}** score (no "
           f"target labels), evaluated every {cfg['eval_every']} steps."), ""]
  if final:
    out += final_section(res, final)[1:] + [""]
  out += ["## Target test accuracy (%), mean ± std over seeds, selected without target labels"
          + (" (this run alone)" if final else ""), ""]
  out += accuracy_table(res, methods)
  cols = _other_columns(res)
  out += ["", "Other checkpoints (mean over seeds): " + " / ".join(c[1] for c in cols)
          + " pick; the **oracle** pick on target-test accuracy uses target labels (how the "
          "reference scripts chose their epoch; not a valid selection rule).", ""]
  out += ["| pair | method | " + " | ".join(c[1] for c in cols) + " |",
          "|---|---|" + "---|" * len(cols)]
  for pair, by in res["table"].items():
    for m in methods:
      r = by[m]
      out.append(f"| {pair} | {LABELS.get(m, m)} | "
                 + " | ".join(_pct(r[c[0]]) for c in cols) + " |")
  out += paired_differences(res)
  out += ["", "## The issue's targets on this run", ""] + target_checks(res)
  if not target_checks(res)[0].startswith("- Not evaluated"):
    out += ["", "Secondary (these rules were not declared before the run; shown so that the "
            "effect of the selection rule is visible):"] + other_checkpoint_checks(res)
  for folder in supplements:
    out += supplement_section(res, folder, final=folder == final)
  if res.get("plan_mass"):
    out += ["", "## Transport mass per source class (one minibatch, JUMBOT-trained embedding, "
            "seed " + str(seeds[0]) + ")", ""]
    for pair, pm in res["plan_mass"].items():
      tc = pm.get("target_classes")
      out.append(f"- `{pair}` (target classes {tc}):")
      for name in ("balanced", "unbalanced"):
        frac = ", ".join(f"{x:.3f}" for x in pm[name]["mass_fraction_per_class"])
        ratio = pm[name].get("missing_over_present")
        extra = (f"; mean mass of a missing class / mean mass of a present class = "
                 f"{ratio:.3f}" if ratio is not None else "")
        out.append(f"  - {name}: total mass {sum(pm[name]['mass_per_class']):.3f}; fraction "
                   f"per class [{frac}]{extra}")
  pngs = sorted(f for f in os.listdir(folder) if f.endswith(".png")) if folder else []
  if pngs:
    out += ["", "## Plots", ""] + [f"- `{p}`" for p in pngs]
  if notes:
    out += ["", "## Notes", "", notes]
  return "\n".join(out) + "\n"


def bench_readme(res, command: str, notes: str) -> str:
  s = res["settings"]
  out = ["# JUMBOT training-step benchmark: wassml vs the POT-on-host reference design", "",
         "Generated by `experiments/domain_adaptation/report.py` from `bench.json`.", "",
         "- Command: `" + command + "`" if command else "- Command: see bench_step.py",
         f"- Date (UTC): {res['date_utc']}", f"- Machine: {_machine(res)}",
         f"- Setting: {s['model']}, batch {s['batch']} source + {s['batch']} target images "
         f"{s['image']}x{s['image']}x{s['channels']}, eps={s['epsilon']}, rho={s['rho']}, "
         f"eta1=eta2={s['eta1']}, solver cap {s['num_iters']} iterations, tol {s['tol']}; "
         f"{s['warmup']} warm-up + {s['rounds']} timed rounds, variants interleaved in one "
         "process; medians.", "",
         "| variant | median step (s) | wassml speed-up |", "|---|---|---|"]
  med = res["step_median_s"]
  for k, v in med.items():
    sp = "1 (reference point)" if k == "wassml" else f"{res['step_speedup_vs'][k]:.2f}x"
    out.append(f"| {k} | {v:.3f} | {sp} |")
  out += ["", "Coupling alone (cost matrix -> plan):", "", "| variant | median (s) |", "|---|---|"]
  for k, v in res["coupling_median_s"].items():
    out.append(f"| {k} | {v:.4f} |")
  it = res.get("solver_iterations", {})
  out += ["", f"- POT-host / wassml coupling time: {res['coupling_speedup_pot_over_wassml']:.2f}x "
          f"(to tolerance; iterations wassml {it.get('wassml')}, POT {it.get('pot')}: "
          f"{it.get('note', '')}).",
          "- Same fixed iteration count on both sides: " + ", ".join(
              f"{k} {v:.2f}x" for k, v in res.items()
              if k.startswith("coupling_speedup_pot_over_wassml_")),
          f"- wassml vs POT plan, relative L1 difference: "
          f"{res['plan_relative_l1_error_wassml_vs_pot']:.2e}.",
          "- GPU: none available in this session; no GPU figure recorded."]
  if "max_possible_speedup_vs_pot_callback" in res:
    out += [f"- Upper bound on any gain from the solver (`pot_callback` / `free_plan`, the same step "
            f"with a constant plan and no solver): "
            f"{res['max_possible_speedup_vs_pot_callback']:.2f}x."]
  if notes:
    out += ["", "## Notes", "", notes]
  return "\n".join(out) + "\n"


def main(argv):
  del argv
  folder = _RESULTS.value
  if os.path.exists(os.path.join(folder, "results.json")):
    with open(os.path.join(folder, "results.json")) as f:
      notes = _NOTES.value
      if _NOTES_FILE.value:
        with open(_NOTES_FILE.value) as nf:
          notes = (notes + "\n\n" if notes else "") + nf.read().strip()
      text = da_readme(json.load(f), _COMMAND.value, notes, _SUPPLEMENT.value, _FINAL.value,
                       folder=folder)
  else:
    with open(os.path.join(folder, "bench.json")) as f:
      text = bench_readme(json.load(f), _COMMAND.value, _NOTES.value)
  with open(os.path.join(folder, "README.md"), "w") as f:
    f.write(text)
  print(text)


if __name__ == "__main__":
  # Flags are defined only when run as a script, so importing this module
  # (tests, colabs) never clashes with another script's flags.
  _RESULTS = flags.DEFINE_string("results", None, "Folder with results.json or bench.json.")
  _COMMAND = flags.DEFINE_string("command", "", "The exact command that produced the results.")
  _NOTES = flags.DEFINE_string("notes", "", "Free text appended verbatim (observations).")
  _NOTES_FILE = flags.DEFINE_string("notes_file", None, "File whose text is appended as notes.")
  _SUPPLEMENT = flags.DEFINE_multi_string(
      "supplement", [], "Folder of a supplementary run on some of the same pairs (paired by "
      "seed): its table, and the targets with its methods in place of this run's.")
  _FINAL = flags.DEFINE_string(
      "final_supplement", None, "One of the --supplement folders whose methods replace this run's "
      "on its pairs in a 'Final table' section at the top (e.g. the partial pair at its rho "
      "chosen without target labels). Its merged checks are shown there, not repeated below.")
  app.run(main)
