"""Writes a results README from a run's results.json (every number comes from the file).

  python -m experiments.text_saliency.report --workdir=experiments/text_saliency/results/mid \
      --command="python -m experiments.text_saliency.main --config=... --workdir=..." \
      --machine="2-core AMD EPYC CPU shared by ~8 jobs, no GPU"
"""

from __future__ import annotations

import json
import pathlib

from absl import app, flags

FLAGS = flags.FLAGS


def _pct(x) -> str:
  return f"{100 * x:.1f}%"


def _f(x) -> str:
  return "n/a" if x is None else f"{x:.3f}"


def render(r: dict, command: str, machine: str, notes: str = "") -> str:
  t = r["thesis"]
  c = r["config"]
  lines = [
      f"# text_saliency: {c['dataset']} ({pathlib.Path(FLAGS.workdir).name} config)", "",
      f"- Command: `{command}`",
      f"- Date (UTC, end of run): {r['date_utc']}",
      f"- Machine: {machine} ({r['machine']['platform']}; JAX {r['machine']['jax']}, "
      f"devices {r['machine']['devices']})",
      f"- Wall time: {r['timing_s']['total']:.0f} s "
      f"(skip-gram {', '.join(f'{v:.0f}' for v in r['timing_s']['skipgram'])} s; CNN "
      f"{', '.join(f'{v:.0f}' for v in r['timing_s']['cnn'])} s; saliency of all test windows "
      f"{', '.join(f'{v:.2f}' for v in r['timing_s']['saliency_all_test_windows'])} s per seed)",
      f"- Data: {r['data']}",
      f"- Classes: {r['class_names']}", "",
      "## Accuracy on held-out windows", "",
      "| classifier | this run | thesis (Latin / French / English) |", "|---|---|---|",
      f"| TextCNN (mean ± std over seeds {list(c['seeds'])}) | {_pct(r['cnn_accuracy'])} ± "
      f"{_pct(r['cnn_accuracy_std'])} (per seed: "
      f"{', '.join(_pct(a) for a in r['cnn_accuracy_per_seed'])}) | "
      f"{_pct(t['cnn_accuracy'][0])}-{_pct(t['cnn_accuracy'][1])} |",
      f"| z-score (sum of word z-scores) | {_pct(r['zscore_accuracy'])} | "
      f"{_pct(t['zscore_accuracy'][0])}-{_pct(t['zscore_accuracy'][1])} |",
      f"| chance | {_pct(1 / len(r['class_names']))} | |", "",
      f"CNN right and z-score wrong on {r['cnn_right_zscore_wrong']} test windows; z-score right "
      f"and CNN wrong on {r['zscore_right_cnn_wrong']}.", "",
      "## Saliency vs z-score (first seed)", "",
      "| Pearson per window | value |", "|---|---|",
      f"| mean, signed TDS vs z-score (`mean_correlation`) | {_f(r['mean_correlation'])} |",
      f"| median | {_f(r['median_correlation'])} |",
      f"| max over windows | {_f(r['max_correlation'])} |",
      f"| mean per seed | {', '.join(_f(v) for v in r['mean_correlation_per_seed'])} |",
      f"| mean, \\|TDS\\| vs z-score | {_f(r.get('mean_correlation_abs_saliency'))} |",
      f"| windows | {r['correlated_windows']} |",
      f"| thesis | 0.38 on its most correlated example |", "",
  ]
  p = r.get("planted")
  if p:
    lines += [
        "## Planted n-grams (the validation that cannot be fooled)", "",
        f"Texts whose class is set only by the order of planted words ({p['ngrams']}); every class "
        "holds the same words equally often.", "",
        "| metric | value |", "|---|---|",
        f"| TextCNN accuracy | {_pct(p['cnn_accuracy'])} |",
        f"| z-score accuracy | {_pct(p['zscore_accuracy'])} |",
        f"| saliency precision@1 (\\|TDS\\|) | {p['precision_at_1_abs']:.3f} |",
        f"| saliency precision@{p['k']} (\\|TDS\\|) | {p['precision_at_k_abs']:.3f} |",
        f"| saliency precision@{p['k']} (signed TDS) | {p['precision_at_k_signed']:.3f} |",
        f"| chance precision | {p['chance_precision']:.3f} |", "",
    ]
  lines += ["## CNN right, z-score wrong: the most salient 3-word span", "",
            "Spans whose words are least specific on their own first (z-scores for the true "
            "class).", "",
            "| window | true | z-score says | salient span | z-scores of the span | share of "
            "\\|TDS\\| |", "|---|---|---|---|---|---|"]
  for e in r["cooccurrence_examples"]:
    span = e["span"].replace("|", "\\|")
    lines.append(f"| {e['window']} | {e['label']} | {e['zscore_prediction']} | `{span}` | "
                 f"{e['span_zscores_true_class']} | {e['span_saliency_share']:.2f} |")
  lines += ["", "## Files", "",
            "- `results.json`: every number above, the config, per-seed values.",
            "- `accuracy.png`, `correlation.png`, `training.png`.",
            "- `saliency.html` (open in a browser) and `example_*.png`: words coloured by TDS "
            "beside their z-score colouring, with both curves along the window.", ""]
  lines += ["## Config", "", "```json", json.dumps(c, indent=1, default=str), "```", ""]
  if notes:
    lines += [notes, ""]
  return "\n".join(lines)


def main(argv):
  del argv
  wd = pathlib.Path(FLAGS.workdir)
  r = json.loads((wd / "results.json").read_text())
  (wd / "README.md").write_text(render(r, FLAGS.command, FLAGS.machine, FLAGS.notes))


if __name__ == "__main__":
  # Flags are defined only when run as a script, so importing this module
  # (tests, colabs) never clashes with another script's flags.
  flags.DEFINE_string("workdir", None, "Folder with results.json.", required=True)
  flags.DEFINE_string("command", "", "The exact command that produced the run.")
  flags.DEFINE_string("machine", "", "The machine, in words.")
  flags.DEFINE_string("notes", "", "Extra markdown appended at the end (discussion).")
  app.run(main)
