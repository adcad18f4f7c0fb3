"""Where a compiled training step spends its time on XLA:CPU: a trace, summed by operation kind.

``profile_step(step, args, repeats)`` runs a jitted step under ``jax.profiler``, maps every
executed HLO instruction of the trace to the JAX operation it came from (the ``op_name`` of the
compiled module's metadata) and sums the durations by kind: ``conv_general_dilated`` (forward
convolutions), ``T:conv_general_dilated`` (their transposes: input gradients), ``T:dot_general``
and ``T:slice`` (the kernel gradient of ``wassml.nn.conv``: one product per kernel offset of a
shifted view), reductions and elementwise work. The sum is the time the operations ran, over
all threads, so it exceeds the wall time of a step when XLA runs operations side by side.
"""

from __future__ import annotations

import collections
import glob
import gzip
import json
import re
import tempfile
import time

import jax

_OP = re.compile(r"\s*%?([\w.\-]+) = .*?op_name=\"([^\"]+)\"")


def _kind(op_name: str) -> str:
  last = re.sub(r"\.\d+|\d+", "", op_name.split("/")[-1])
  return ("T:" + last) if "transpose(" in op_name else last


def profile_step(step, args, *, repeats: int = 3, top: int = 12) -> dict:
  """Per-kind operation time (ms per step) of ``step(*args)`` (a jitted function)."""
  compiled = step.lower(*args).compile()
  names = {}
  for line in compiled.as_text().splitlines():
    m = _OP.match(line)
    if m:
      names[m.group(1)] = _kind(m.group(2))
  out = step(*args)
  jax.block_until_ready(out)
  t0 = time.perf_counter()
  with tempfile.TemporaryDirectory() as tmp:
    jax.profiler.start_trace(tmp)
    for _ in range(repeats):
      out = step(*args)
    jax.block_until_ready(out)
    jax.profiler.stop_trace()
    wall = (time.perf_counter() - t0) / repeats
    files = sorted(glob.glob(f"{tmp}/**/*.trace.json.gz", recursive=True))
    events = json.load(gzip.open(files[-1]))["traceEvents"] if files else []
  by_kind: collections.Counter = collections.Counter()
  for e in events:
    if e.get("ph") == "X" and "dur" in e and e.get("name") in names:
      by_kind[names[e["name"]]] += e["dur"] / 1000.0 / repeats
  total = sum(by_kind.values())
  return {"wall_ms_per_step_under_trace": wall * 1000.0, "op_ms_per_step": total,
          "by_kind_ms": {k: round(v, 2) for k, v in by_kind.most_common(top)},
          "share": {k: round(v / total, 3) for k, v in by_kind.most_common(top)} if total else {}}
