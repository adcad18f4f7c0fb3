"""The ``wassml`` console script.

  wassml list                                   # experiments, datasets and domain pairs
  wassml run NAME --config quick|default|PATH --workdir W [--set key=value ...]
  wassml tour --workdir W                       # every family's quick experiment + HTML report
  wassml results-page                           # gather committed results into docs/results.md

``python -m wassml.cli ...`` is the same. Bad input (unknown experiment, dataset or config key,
missing offline data) prints one clear error line and exits with status 2.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import json
import pathlib
import sys
from typing import Any, Sequence

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
EXPERIMENTS_DIR = REPO_ROOT / "experiments"


def list_experiments() -> list[str]:
  """Experiments: folders of ``experiments/`` with a ``train.py`` and a ``configs/`` folder."""
  if not EXPERIMENTS_DIR.is_dir():
    return []
  return sorted(p.name for p in EXPERIMENTS_DIR.iterdir()
                if (p / "train.py").is_file() and (p / "configs").is_dir())


def list_configs(name: str) -> list[str]:
  """Named configs of an experiment (``quick``, ``default``, ...)."""
  folder = EXPERIMENTS_DIR / name / "configs"
  return sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_"))


def load_config(name: str, config: str):
  """Returns the locked ConfigDict of experiment ``name`` for a config name or a file path."""
  experiments = list_experiments()
  if name not in experiments:
    raise ValueError(f"Unknown experiment {name!r}; valid names: {experiments}.")
  if config in list_configs(name):
    module = importlib.import_module(f"experiments.{name}.configs.{config}")
  else:
    path = pathlib.Path(config)
    if not path.is_file():
      raise ValueError(f"Config {config!r} is neither a config of {name!r} "
                       f"({list_configs(name)}) nor an existing file.")
    spec = importlib.util.spec_from_file_location(f"_wassml_config_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
  cfg = module.get_config()
  if hasattr(cfg, "lock"):
    cfg.lock()
  return cfg


def _parse_value(text: str, old: Any) -> Any:
  try:
    value = ast.literal_eval(text)
  except (ValueError, SyntaxError):
    value = text
  if isinstance(old, bool):
    if isinstance(value, bool):
      return value
    if str(value).lower() in ("true", "false", "1", "0"):
      return str(value).lower() in ("true", "1")
    raise ValueError(f"expected a bool, got {text!r}")
  if isinstance(old, float) and isinstance(value, int) and not isinstance(value, bool):
    return float(value)
  if isinstance(old, (tuple, list)) and isinstance(value, (tuple, list)):
    return type(old)(value)
  if old is not None and not isinstance(value, type(old)):
    raise ValueError(f"expected {type(old).__name__}, got {text!r}")
  return value


def apply_overrides(cfg, overrides: Sequence[str]):
  """Applies ``key=value`` overrides (dotted keys for nested fields); unknown keys are errors."""
  for item in overrides:
    if "=" not in item:
      raise ValueError(f"--set expects key=value, got {item!r}.")
    key, text = item.split("=", 1)
    *parents, leaf = key.strip().split(".")
    node = cfg
    for p in parents:
      if p not in node:
        raise ValueError(f"Unknown config key {key!r}; valid keys: {sorted(node.keys())}.")
      node = node[p]
    if leaf not in node:
      raise ValueError(f"Unknown config key {key!r}; valid keys: {sorted(node.keys())}.")
    try:
      value = _parse_value(text, node[leaf])
    except ValueError as e:
      raise ValueError(f"Bad value for config key {key!r}: {e}.") from None
    with cfg.unlocked() if hasattr(cfg, "unlocked") else _null():
      node[leaf] = value
  return cfg


class _null:
  def __enter__(self):
    return self

  def __exit__(self, *a):
    return False


def _cmd_list(args) -> int:
  from wassml import data  # pylint: disable=g-import-not-at-top
  print("experiments:")
  for name in list_experiments():
    print(f"  {name:24s} configs: {', '.join(list_configs(name))}")
  print("datasets (offline):")
  print("  " + ", ".join(n for n in data.list_datasets() if data.is_offline(n)))
  print("datasets (TFDS, need a network or a prepared data_dir; any 'tfds:<name>' too):")
  print("  " + ", ".join(n for n in data.list_datasets() if not data.is_offline(n)))
  print("domain-adaptation pairs:")
  print("  " + ", ".join(data.list_domain_pairs()))
  return 0


def _cmd_run(args) -> int:
  cfg = load_config(args.name, args.config)
  apply_overrides(cfg, args.set or [])
  train = importlib.import_module(f"experiments.{args.name}.train")
  results = train.train_and_evaluate(cfg, args.workdir)
  scalars = {k: v for k, v in results.items() if isinstance(v, (int, float, str, bool))}
  print(json.dumps(scalars, indent=1, default=str))
  return 0


def _cmd_tour(args) -> int:
  if importlib.util.find_spec("wassml.tour") is None:
    raise ValueError("wassml.tour is not available in this installation.")
  tour = importlib.import_module("wassml.tour")
  kwargs = {}
  if args.only:
    kwargs["only"] = args.only
  if args.rerun:
    kwargs["rerun"] = True
  report = tour.main(args.workdir, **kwargs)
  if report is not None:
    print(f"report: {report}")
  return 0


def _cmd_results_page(args) -> int:
  del args
  from wassml import results_page  # pylint: disable=import-outside-toplevel
  print(f"wrote {results_page.write()}")
  return 0


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(prog="wassml", description=__doc__.split("\n\n")[0])
  sub = parser.add_subparsers(dest="command", required=True)
  sub.add_parser("list", help="list experiments, datasets and domain pairs")
  run = sub.add_parser("run", help="run an experiment")
  run.add_argument("name", help="experiment name (see `wassml list`)")
  run.add_argument("--config", default="quick", help="quick | default | other config | PATH")
  run.add_argument("--workdir", required=True, help="output folder")
  run.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a config field (repeatable); unknown keys are errors")
  tour = sub.add_parser("tour", help="run every family's quick experiment, write an HTML report")
  tour.add_argument("--workdir", default="runs/tour")
  tour.add_argument("--only", nargs="*", help="run only these tour entries")
  tour.add_argument("--rerun", action="store_true", help="rerun finished entries")
  sub.add_parser("results-page", help="gather the committed results tables into docs/results.md")
  return parser


def main(argv: Sequence[str] | None = None) -> int:
  """Entry point; returns the exit status (0 ok, 2 bad input / missing data)."""
  args = build_parser().parse_args(argv)
  handlers = {"list": _cmd_list, "run": _cmd_run, "tour": _cmd_tour,
              "results-page": _cmd_results_page}
  try:
    return handlers[args.command](args)
  except (ValueError, TypeError, FileNotFoundError) as e:
    print(f"wassml {args.command}: error: {e}", file=sys.stderr)
    return 2


if __name__ == "__main__":
  sys.exit(main())
