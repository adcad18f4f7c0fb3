"""Progress bars, metrics as JSON lines, and matplotlib plots of them."""

from __future__ import annotations

import json
import math
import os
import pathlib
from typing import Any, Iterable, Sequence

import numpy as np
from tqdm.auto import tqdm


def progress(iterable: Iterable | None = None, **kwargs: Any) -> tqdm:
  """A tqdm bar for long loops; ``WASSML_PROGRESS=0`` disables every bar."""
  kwargs.setdefault("disable", os.environ.get("WASSML_PROGRESS", "1") == "0")
  kwargs.setdefault("dynamic_ncols", True)
  kwargs.setdefault("mininterval", 1.0)
  return tqdm(iterable, **kwargs)


def _scalar(v: Any) -> Any:
  if isinstance(v, (str, bool, int)) or v is None:
    return v
  a = np.asarray(v)
  if a.ndim == 0:
    f = float(a)
    return f if math.isfinite(f) else str(f)
  return a.tolist()


class MetricsWriter:
  """Appends one JSON object per line: ``{"step": s, **metrics}``.

  Args:
    path: the ``.jsonl`` file (its folder is created), or None to keep the records in memory
      (a run without a workdir; :meth:`read` returns them the same way).
  """

  def __init__(self, path: str | os.PathLike | None):
    self.path = None if path is None else pathlib.Path(path)
    self._records: list[dict] = []
    if self.path is not None:
      self.path.parent.mkdir(parents=True, exist_ok=True)

  def write(self, step: int, metrics: dict, **extra: Any) -> dict:
    """Writes one record (arrays become floats/lists) and returns it."""
    rec = {"step": int(step), **{k: _scalar(v) for k, v in {**metrics, **extra}.items()}}
    if self.path is None:
      self._records.append(rec)
      return rec
    with self.path.open("a") as f:
      f.write(json.dumps(rec) + "\n")
    return rec

  def truncate_after(self, step: int) -> None:
    """Drops records with ``step > step`` (a resumed run redoes them; no duplicates)."""
    if self.path is None:
      self._records = [r for r in self._records if r.get("step", 0) <= step]
      return
    if not self.path.exists():
      return
    keep = [r for r in read_jsonl(self.path) if r.get("step", 0) <= step]
    with self.path.open("w") as f:
      for r in keep:
        f.write(json.dumps(r) + "\n")

  def read(self) -> list[dict]:
    """Every record written (or kept) so far."""
    return list(self._records) if self.path is None else read_jsonl(self.path)


def read_jsonl(path: str | os.PathLike) -> list[dict]:
  """Reads a JSON-lines file (a last line cut by a kill is skipped)."""
  out = []
  path = pathlib.Path(path)
  if not path.exists():
    return out
  for line in path.read_text().splitlines():
    try:
      out.append(json.loads(line))
    except json.JSONDecodeError:
      continue
  return out


def plot_metrics(records: Sequence[dict], keys: Sequence[str], path: str | os.PathLike, *,
                 title: str = "", x_key: str = "step") -> pathlib.Path:
  """Plots ``keys`` against ``x_key`` (one panel per key) into a PNG."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  keys = list(keys)
  fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3), squeeze=False)
  for ax, key in zip(axes[0], keys):
    pts = [(r[x_key], r[key]) for r in records if key in r and isinstance(r[key], (int, float))]
    if pts:
      xs, ys = zip(*pts)
      ax.plot(xs, ys, marker="." if len(xs) < 30 else None)
    ax.set_xlabel(x_key)
    ax.set_title(key)
    ax.grid(alpha=0.3)
  if title:
    fig.suptitle(title)
  fig.tight_layout()
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(path, dpi=100)
  plt.close(fig)
  return path
