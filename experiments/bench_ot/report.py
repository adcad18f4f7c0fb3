r"""Renders a ``bench_ot`` results.json as the markdown tables of its README.

Usage:
  python -m experiments.bench_ot.report experiments/bench_ot/results/cpu/results.json
"""

from __future__ import annotations

import json
import sys


def _ms(s):
  return f"{s * 1e3:,.1f}".replace(",", " ")


def render(res: dict) -> str:
  """Markdown tables: the default calls, every explicit mode, equal work, ott-jax."""
  lines = ["| row | POT loop (ms) | wassml default (ms) | ratio | max rel. value diff vs POT | "
           "kernel / log mode ratio | default / best mode | ott-jax defaults / kernel ratio |",
           "|---|---|---|---|---|---|---|---|"]
  for name, row in res.items():
    if name == "meta" or "pot_loop_s" not in row:
      continue
    modes = (f"{row['ratio_wassml_kernel_over_pot']:.3f} / {row['ratio_wassml_log_over_pot']:.3f}"
             if "ratio_wassml_kernel_over_pot" in row else
             f"auction (JAX) {row['ratio_auction_over_pot']:.2f}")
    best = (f"{row['ratio_default_over_best_mode']:.3f}"
            if "ratio_default_over_best_mode" in row else "—")
    ott = (f"{row['ratio_ott_defaults_over_pot']:.2f} / "
           f"{row['ratio_ott_kernel_tol1e-5_over_pot']:.2f}"
           if "ratio_ott_defaults_over_pot" in row else "—")
    lines.append(f"| `{name}` | {_ms(row['pot_loop_s'])} | {_ms(row['wassml_s'])} | "
                 f"**{row['ratio_wassml_over_pot']:.3f}** | "
                 f"{row['max_rel_value_diff_wassml_vs_pot']:.1e} | {modes} | {best} | {ott} |")
  lines += ["", "Equal work (both sides run exactly POT's iteration count, `tol = 0` / "
            "`stopThr = 0`):", "",
            "| row | iterations | POT (ms) | wassml float32 ratio | wassml float64 ratio |",
            "|---|---|---|---|---|"]
  for name, row in res.items():
    ew = row.get("equal_work") if isinstance(row, dict) else None
    if not ew:
      continue
    lines.append(f"| `{name}` | {ew['iterations']} | {_ms(ew['pot_s'])} | "
                 f"{ew['ratio_equal_work_float32_over_pot']:.3f} | "
                 f"{ew['ratio_equal_work_float64_over_pot']:.3f} |")
  mb = res.get("readme_minibatch_ot")
  if mb:
    lines += ["", "The README's `minibatch_ot` example (value and gradient, 4 minibatches of 32, "
              f"`max C / eps` = {mb['max_cost_over_epsilon']:.0f}): default "
              f"{_ms(mb['default_s'])} ms, `mode=\"log\"` {_ms(mb['log_s'])} ms, "
              f"`mode=\"kernel\"` {_ms(mb['kernel_s'])} ms"
              + ("" if mb["kernel_valid"] else
                 " (not a valid alternative: the kernel underflows at this ratio, and under "
                 "`jit` the cost is traced so nothing stops it)")
              + f"; default / best valid mode **{mb['ratio_default_over_best_valid_mode']:.2f}**."]
  return "\n".join(lines)


if __name__ == "__main__":
  with open(sys.argv[1]) as fh:
    print(render(json.load(fh)))
