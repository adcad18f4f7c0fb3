"""The main job: a tour of every wassml family on offline data, with an HTML report.

``wassml tour --workdir runs/tour`` runs each family's quick experiment (the same
``experiments/<name>/train.py:train_and_evaluate`` the tests and the colabs call), one after the
other, and writes

- ``<workdir>/<name>/``: each experiment's own ``results.json`` and figures;
- ``<workdir>/results.json``: every experiment's results, its status and wall time;
- ``<workdir>/report.html``: one page with the tables and the figures.

A family that fails is reported as failed (with its traceback) and the tour goes on, so one
broken piece never loses the others' work. A family whose ``results.json`` already exists in the
workdir is not run again unless ``--rerun`` is given (a killed tour resumes).
"""

from __future__ import annotations

import dataclasses
import datetime
import html
import importlib
import json
import os
import pathlib
import platform
import time
import traceback
from typing import Any, Sequence

from tqdm.auto import tqdm

# The order of the tour: foundations first, then the method families.
TOUR: tuple[tuple[str, str], ...] = (
    ("ot_tour", "Optimal-transport core: exact, entropic, unbalanced and minibatch OT"),
    ("supervised", "Harness example: a supervised classifier"),
    ("clustering", "Wasserstein clustering: WAMiC / DiWaC and model selection"),
    ("noisy_labels", "Noisy labels: CCE vs VAT vs WAR"),
    ("domain_adaptation", "Domain adaptation: source-only vs DeepJDOT vs JUMBOT"),
    ("active_learning", "Active learning: DFAL and baselines"),
    ("dwe", "Deep Wasserstein Embedding"),
    ("text_saliency", "Text CNN deconvolution saliency vs z-scores"),
    ("generative", "Generative modelling with OT losses"),
)


@dataclasses.dataclass
class Entry:
  name: str
  title: str
  status: str = "pending"
  seconds: float = 0.0
  results: dict[str, Any] = dataclasses.field(default_factory=dict)
  error: str = ""


def _available(name: str) -> bool:
  root = pathlib.Path(__file__).resolve().parent.parent / "experiments" / name
  return (root / "train.py").exists() and (root / "configs" / "quick.py").exists()


def run_one(name: str, workdir: pathlib.Path) -> dict[str, Any]:
  """Runs ``experiments.<name>`` with its quick config into ``workdir`` and returns its results."""
  train = importlib.import_module(f"experiments.{name}.train")
  config = importlib.import_module(f"experiments.{name}.configs.quick").get_config()
  workdir.mkdir(parents=True, exist_ok=True)
  results = train.train_and_evaluate(config, str(workdir))
  return dict(results or {})


def _figures(path: pathlib.Path) -> list[pathlib.Path]:
  return sorted(p for p in path.rglob("*.png"))


def _fmt(value: Any) -> str:
  if isinstance(value, float):
    return f"{value:.4g}"
  if isinstance(value, dict):
    return ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
  if isinstance(value, (list, tuple)):
    if len(value) > 12:
      return f"[{', '.join(_fmt(v) for v in value[:12])}, … ({len(value)} values)]"
    return "[" + ", ".join(_fmt(v) for v in value) + "]"
  return html.escape(str(value))


def write_report(workdir: pathlib.Path, entries: Sequence[Entry], elapsed: float) -> pathlib.Path:
  """Writes ``report.html`` (tables + figures) and ``results.json`` into ``workdir``."""
  summary = {
      "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
      "machine": f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores".strip(),
      "total_seconds": round(elapsed, 1),
      "experiments": {e.name: dataclasses.asdict(e) for e in entries},
  }
  (workdir / "results.json").write_text(json.dumps(summary, indent=2, default=str))
  parts = [
      "<!doctype html><html><head><meta charset='utf-8'><title>wassml tour</title>",
      "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
      "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
      "text-align:left;vertical-align:top}.ok{color:#070}.failed{color:#b00}.skipped{color:#888}"
      "img{max-width:520px;margin:4px;border:1px solid #eee}pre{background:#f6f6f6;padding:.5em;"
      "overflow-x:auto;font-size:12px}</style></head><body>",
      "<h1>wassml tour</h1>",
      f"<p>{html.escape(summary['created'])} — {html.escape(summary['machine'])} — "
      f"total {elapsed:.0f} s. Each section runs the family's quick config "
      "(<code>experiments/&lt;name&gt;/configs/quick.py</code>) on offline data.</p>",
      "<table><tr><th>experiment</th><th>status</th><th>seconds</th></tr>",
  ]
  for e in entries:
    parts.append(f"<tr><td><a href='#{e.name}'>{html.escape(e.title)}</a></td>"
                 f"<td class='{e.status}'>{e.status}</td><td>{e.seconds:.1f}</td></tr>")
  parts.append("</table>")
  for e in entries:
    parts.append(f"<h2 id='{e.name}'>{html.escape(e.title)} "
                 f"<small class='{e.status}'>({e.status})</small></h2>")
    parts.append(f"<p><code>wassml run {e.name} --config quick</code></p>")
    if e.results:
      parts.append("<table>")
      for key, value in e.results.items():
        parts.append(f"<tr><th>{html.escape(str(key))}</th><td>{_fmt(value)}</td></tr>")
      parts.append("</table>")
    if e.error:
      parts.append(f"<pre>{html.escape(e.error)}</pre>")
    for fig in _figures(workdir / e.name):
      rel = fig.relative_to(workdir).as_posix()
      parts.append(f"<a href='{rel}'><img src='{rel}' alt='{html.escape(fig.stem)}'></a>")
  parts.append("</body></html>")
  report = workdir / "report.html"
  report.write_text("\n".join(parts))
  return report


def main(workdir: str, only: Sequence[str] | None = None, rerun: bool = False) -> pathlib.Path:
  """Runs the tour and returns the path of the HTML report."""
  root = pathlib.Path(workdir)
  root.mkdir(parents=True, exist_ok=True)
  valid = [name for name, _ in TOUR]
  if only:
    unknown = sorted(set(only) - set(valid))
    if unknown:
      raise ValueError(f"Unknown tour experiment(s) {unknown}; valid names: {valid}.")
  entries = [Entry(name, title) for name, title in TOUR if not only or name in only]
  start = time.perf_counter()
  bar = tqdm(entries, desc="wassml tour", unit="experiment")
  for entry in bar:
    bar.set_postfix_str(entry.name)
    out = root / entry.name
    done = out / "results.json"
    if not _available(entry.name):
      entry.status, entry.error = "skipped", "experiment not available in this checkout"
      continue
    if done.exists() and not rerun:
      entry.status, entry.results = "ok", json.loads(done.read_text())
      entry.error = "(results reused from an earlier run of this tour; pass --rerun to recompute)"
      continue
    t0 = time.perf_counter()
    try:
      entry.results = run_one(entry.name, out)
      entry.status = "ok"
    except Exception:  # pylint: disable=broad-except
      entry.status, entry.error = "failed", traceback.format_exc()
    entry.seconds = time.perf_counter() - t0
    # Write the report after every experiment, so a killed tour keeps what it finished.
    write_report(root, entries, time.perf_counter() - start)
  report = write_report(root, entries, time.perf_counter() - start)
  print(f"Report: {report.resolve()}")
  failed = [e.name for e in entries if e.status == "failed"]
  if failed:
    print(f"Failed: {failed} (tracebacks in the report)")
  return report
