"""Summarises a (possibly partial, e.g. stopped) run's ``results.json``: AUCs, Table 4.2's form, targets, plot.

Usage:

  python -m experiments.active_learning.summarize --workdir=runs/al_mid [--merge=runs/al_mid_b] [--target_gap=0.01]

It reads ``<workdir>/results.json`` (written after every finished strategy), adds the summary of
the strategies present with :func:`experiments.active_learning.train.summarize_curves`, rewrites
the file and ``learning_curves.png``. A run stopped before all strategies keeps ``"partial": true``.
"""

import json
import pathlib

from absl import app, flags

from experiments.active_learning import train

FLAGS = flags.FLAGS


def partial_curves(workdir: pathlib.Path, schedule) -> dict:
  """Curves of stopped loops, read from their latest checkpoint (rounds not run are None)."""
  import numpy as np  # noqa: PLC0415
  import orbax.checkpoint as ocp  # noqa: PLC0415

  out = {}
  for d in sorted((workdir / "loops").glob("*/checkpoints")):
    mgr = ocp.CheckpointManager(d.absolute())
    steps = mgr.all_steps()
    if not steps:
      continue
    st = mgr.restore(max(steps))["state"]
    acc = np.asarray(st["accuracy"], float)
    done = int(st["rounds_done"])
    if done >= len(schedule):
      continue  # finished loops come from results.json
    mean = [float(np.mean(acc[:, i])) if i < done else None for i in range(len(schedule))]
    std = [float(np.std(acc[:, i])) if i < done else None for i in range(len(schedule))]
    out[d.parent.name] = {
        "num_labels": list(schedule), "accuracy_per_seed": [[float(a) if i < done else None for i, a in enumerate(row)]
                                                            for row in acc],
        "accuracy_mean": mean, "accuracy_std": std,
        "num_train_mean": [float(v) for v in np.asarray(st["num_train"]).mean(0)],
        "query_seconds": [float(v) for v in st["query_seconds"]],
        "rounds_done": done, "stopped": True, "from_checkpoint": str(d),
    }
  return out


def _fmt(v, nd=3):
  if v is None:
    return "—"
  if isinstance(v, float):
    return f"{v:.{nd}f}"
  return str(v)


def _full_data_lines(results: dict) -> list[str]:
  """The full-data reference's test accuracy after each logged epoch (a convergence diagnostic)."""
  tr = results.get("full_data_by_epoch")
  if not tr:
    return []
  out = [f"Full-data reference by epoch (batch {tr['batch_size']}, {tr['steps_per_epoch']} steps per epoch; the "
         f"reference is the last epoch's accuracy, fixed in advance):", "",
         "| epoch | " + " | ".join(f"seed {i}" for i in range(len(tr["accuracy_per_seed"]))) + " | mean |",
         "|---" * (len(tr["accuracy_per_seed"]) + 2) + "|"]
  for j, e in enumerate(tr["epochs"]):
    vals = [row[j] for row in tr["accuracy_per_seed"]]
    done = [v for v in vals if v is not None]
    mean = sum(done) / len(done) if len(done) == len(vals) else None
    out.append(f"| {e} | " + " | ".join(_fmt(v, 4) for v in vals) + f" | {_fmt(mean, 4)} |")
  out.append("")
  n = results.get("full_data_seeds_done")
  if n is not None and n < len(tr["accuracy_per_seed"]):
    out.append(f"**Stopped**: {n} of {len(tr['accuracy_per_seed'])} seeds finished; the reference is their mean.")
    out.append("")
  return out


def markdown_summary(results: dict) -> str:
  """Markdown tables of whatever parts ``results`` holds (every number read from it)."""
  out = []
  if "curves" in results:
    budget = max(max(c["num_labels"]) for c in results["curves"].values())
    out.append(f"Full-data accuracy (pool of {results.get('pool_size')}, mean of seeds): "
               f"{_fmt(results['full_data_accuracy'], 4)}; target = full-data - gap = {_fmt(results['target_accuracy'], 4)}.")
    if results.get("partial"):
      out.append("**Partial run**: only the strategies listed finished.")
    out.append("")
    out.extend(_full_data_lines(results))
    out.append(f"### Table 4.2 form: annotations to reach the target, and accuracy at {budget} labels")
    out.append("")
    has_match = any("annotations_to_match_random_at_budget" in t for t in results["table_4_2"].values())
    out.append("| strategy | # annotations | # labelled data (with adversarial / pseudo) | acc @ budget (mean ± std) | AUC |"
               + (" # annotations to match random @ budget |" if has_match else ""))
    out.append("|---|---|---|---|---|" + ("---|" if has_match else ""))
    order = results["ranking_at_budget"] + [k for k in results["table_4_2"] if k not in results["ranking_at_budget"]]
    for name in order:
      t = results["table_4_2"][name]
      reach = budget if t.get("rounds_done") is None else results["curves"][name]["num_labels"][t["rounds_done"] - 1]
      ann = t["annotations"] if t["reached"] else f"> {reach} (not reached)"
      lab = t["labelled_data"] if t["reached"] else "—"
      out.append(f"| {name} | {ann} | {lab} | {_fmt(t['accuracy_at_budget'])} ± {_fmt(t['accuracy_at_budget_std'])} "
                 f"| {_fmt(results['auc'][name])} |"
                 + (f" {_fmt(t.get('annotations_to_match_random_at_budget'))} |" if has_match else ""))
    out.append("")
    if has_match:
      out.append(f"Last column: the first schedule point where the strategy's mean accuracy reaches random's mean accuracy "
                 f"at the budget ({_fmt(results.get('random_accuracy_at_budget'))}); — = never within the budget.")
      out.append("")
    out.append("### Learning curves (mean test accuracy over seeds)")
    out.append("")
    names = list(results["curves"])
    n = results["curves"][names[0]]["num_labels"]
    out.append("| labels | " + " | ".join(names) + " |")
    out.append("|---" * (len(names) + 1) + "|")
    for i, k in enumerate(n):
      out.append(f"| {k} | " + " | ".join(_fmt(results["curves"][m]["accuracy_mean"][i]) for m in names) + " |")
    stopped = [m for m in names if results["curves"][m].get("stopped")]
    if stopped:
      out.append("")
      out.append(f"Stopped before the budget (— = round not run): {', '.join(stopped)}.")
    out.append("")
    if "targets" in results:
      t = results["targets"]
      out.append("### The issue's targets")
      out.append("")
      out.append(f"- DFAL needs >= 30% fewer labels than random to reach the target: "
                 f"**{'reached' if t['dfal_at_least_30pct_fewer_labels_than_random'] else 'not reached'}** "
                 f"(DFAL: {_fmt(t['dfal_labels'])}, random: {_fmt(t['random_labels'])}; — = not reached within the budget).")
      out.append(f"- DFAL in the top 3 at the budget: **{'reached' if t['dfal_top3_at_budget'] else 'not reached'}** "
                 f"(rank {t['dfal_rank_at_budget']} of {len(results['ranking_at_budget'])}).")
      if "dfal_matches_random_with_30pct_fewer_labels" in t:
        out.append(f"- Secondary (not the issue's target): DFAL reaches random's accuracy at {t['random_budget']} labels "
                   f"with <= 70% of them: **{'yes' if t['dfal_matches_random_with_30pct_fewer_labels'] else 'no'}** "
                   f"(DFAL: {_fmt(t['dfal_labels_to_match_random_at_budget'])} labels).")
      out.append("")
  if "transfer" in results:
    out.append("### Table 4.4 form: transfer (queries chosen with the loop's model, another model trained on them)")
    out.append("")
    out.append("| strategy | annotations | training-set size | accuracy (mean) | per seed |")
    out.append("|---|---|---|---|---|")
    for name, t in results["transfer"].items():
      out.append(f"| {name} | {t['annotations']} | {t['training_set_size']} | {_fmt(t['accuracy_mean'])} "
                 f"| {', '.join(_fmt(a) for a in t['accuracy_per_seed'])} |")
    out.append("")
  if "benchmark" in results:
    bench = results["benchmark"]
    out.append("### Table 4.3 form: seconds to select the queries (median of the timed calls), side by side in one "
               "process")
    out.append("")
    out.append("| labelled | unlabelled | queries | DFAL s | DFAL ms / candidate | CORE-SET s | CORE-SET / DFAL "
               "| DFAL CPU s | CORE-SET CPU s | DFAL first call s | CORE-SET first call s |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in bench["rows"]:
      out.append(f"| {r['labelled']} | {r['unlabelled']} | {r['num_queries']} | {_fmt(r['dfal_seconds_median'], 4)} "
                 f"| {_fmt(r.get('dfal_ms_per_candidate'), 2)} | {_fmt(r['coreset_seconds_median'], 4)} "
                 f"| {_fmt(r['coreset_over_dfal'], 3)} | {_fmt(r.get('dfal_cpu_seconds_median'), 3)} "
                 f"| {_fmt(r.get('coreset_cpu_seconds_median'), 3)} | {_fmt(r.get('dfal_first_call_seconds'), 3)} "
                 f"| {_fmt(r.get('coreset_first_call_seconds'), 3)} |")
    out.append("")
    if "dfal_compile_seconds_estimate" in bench:
      out.append(f"DFAL programs compiled in the whole benchmark: {bench['dfal_programs_compiled']}; compilation "
                 f"(first call minus steady state, first row): {_fmt(bench['dfal_compile_seconds_estimate'], 2)} s.")
      out.append("")
    for name, sec in bench.get("compile_seconds_ahead_of_time", {}).items():
      out.append(f"- compilation of `{name}` alone (ahead of time, no compilation cache): {_fmt(sec, 2)} s")
    out.append("")
    for a in bench.get("dfal_attacks", []):
      out.append(f"DeepFool on the {a['unlabelled']} candidates at |L| = {a['labelled']}: mean steps "
                 f"{_fmt(a['num_iters_mean'], 2)}, flipped {_fmt(a['flipped_fraction'], 3)}, steps histogram "
                 f"(0..max_iters) {a['num_iters_histogram']}.")
    out.append("")
  if "prototypes" in results:
    out.append("### Wasserstein prototypes: exact W_2(S_K, P) for K = 1..K_max")
    out.append("")
    for ds, r in results["prototypes"].items():
      out.append(f"**{ds}** — greedy-exact below random at every K: **{r['exact_below_random_every_k']}**, "
                 f"greedy-IPOT below random at every K: **{r['ipot_below_random_every_k']}**")
      out.append("")
      out.append("| K | " + " | ".join(("greedy_exact", "greedy_ipot", "greedy_sinkhorn", "mmd", "random")) + " |")
      out.append("|---" * 6 + "|")
      for i, k in enumerate(r["k"]):
        out.append(f"| {k} | " + " | ".join(_fmt(r[m]["w"][i], 4) for m in
                                            ("greedy_exact", "greedy_ipot", "greedy_sinkhorn", "mmd", "random")) + " |")
      out.append("")
  return "\n".join(out)


def main(argv):
  del argv
  wd = pathlib.Path(FLAGS.workdir)
  results = json.loads((wd / "results.json").read_text())
  for other in FLAGS.merge:
    extra = json.loads((pathlib.Path(other) / "results.json").read_text())
    for name, curve in extra.get("curves", {}).items():
      if name not in results["curves"]:
        results["curves"][name] = {**curve, "merged_from": str(other)}
    results.setdefault("merged_runs", []).append(
        {"workdir": str(other), "full_data_accuracy": extra.get("full_data_accuracy"),
         "partial": extra.get("partial", False), "strategies": list(extra.get("curves", {}))})
  if "curves" not in results:  # a benchmark / prototypes run
    (wd / "summary.md").write_text(markdown_summary(results) + "\n")
    print((wd / "summary.md").read_text())
    return
  for other in FLAGS.loops_from:
    for name, curve in partial_curves(pathlib.Path(other), results["config"]["schedule"]).items():
      if name not in results["curves"]:
        results["curves"][name] = curve
  if FLAGS.full_data_from:
    import ml_collections  # noqa: PLC0415
    results.update(train.reuse_full_data(ml_collections.ConfigDict(results["config"]), FLAGS.full_data_from))
  if "full_data_accuracy" not in results:
    raise ValueError(f"{wd / 'results.json'} has no full-data reference (a full_data=False run): pass --full_data_from")
  train.summarize_curves(results, FLAGS.target_gap)
  cfg = results["config"]
  train.plot_curves(results["curves"], results["full_data_accuracy"], results["target_accuracy"],
                    wd / "learning_curves.png",
                    f"{cfg['dataset']}, {cfg['model']}, {cfg['num_seeds']} seeds"
                    + (" (partial)" if results.get("partial") else ""))
  (wd / "results.json").write_text(json.dumps(results, indent=1))
  (wd / "summary.md").write_text(markdown_summary(results) + "\n")
  print(json.dumps({k: results[k] for k in ("table_4_2", "ranking_at_budget", "targets", "auc") if k in results},
                   indent=1))


if __name__ == "__main__":
  # Flags are defined only when run as a script, so importing this module
  # (tests, colabs) never clashes with another script's flags.
  flags.DEFINE_string("workdir", None, "Run folder holding results.json.", required=True)
  flags.DEFINE_float("target_gap", 0.01, "Full-data accuracy minus this is the accuracy to reach.")
  flags.DEFINE_multi_string("loops_from", [], "Run folders whose UNFINISHED strategy loops (checkpointed "
                            "rounds under <dir>/loops/<name>/checkpoints) are added as partial curves.")
  flags.DEFINE_string("full_data_from", None, "A results.json with the full-data reference of the same data / model / "
                      "seeds, for a run made with full_data=False.")
  flags.DEFINE_multi_string("merge", [], "Other run folders (same config but other strategies) whose curves "
                            "are added where the main run lacks them.")
  app.run(main)
