r"""Evidence for the auction's epsilon-scaling defaults (docs/ot.md).

Solves problem 0 of the benchmark (500 x 500, d = 128, cost / max) with the JAX
auction for several (eps_init_rel, eps_factor) schedules and prints the number
of bidding rounds, the steady-state time (second call) and the value gap to
POT's ``ot.emd2``.

Usage:
  python -m experiments.bench_ot.auction_schedule --workdir=experiments/bench_ot/results/cpu
"""

import json
import os
import time

from absl import app, flags

FLAGS = flags.FLAGS

SCHEDULES = [(0.25, 8.0), (0.05, 10.0), (0.01, 20.0), (0.002, 50.0)]


def main(argv):
  del argv
  os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                             " --xla_cpu_multi_thread_eigen=false"
                             " intra_op_parallelism_threads=1").strip()
  import jax
  import jax.numpy as jnp
  import numpy as np
  import ot

  from experiments.bench_ot.data import make_costs
  from wassml.ot.exact import auction_assignment

  c64 = make_costs(0, 1, 500, 128)[0]
  c = jnp.asarray(c64, jnp.float32)
  t0 = time.perf_counter()
  ref = ot.emd2([], [], c64)
  pot_s = time.perf_counter() - t0
  rows = []
  for e0, fac in SCHEDULES:
    f = lambda: jax.block_until_ready(auction_assignment(
        c, eps_final_rel=1e-6, eps_factor=fac, eps_init_rel=e0, chunk=64))
    f()  # compile (eps settings are traced, so only the first call compiles)
    t0 = time.perf_counter()
    perm, _, rounds, ok = f()
    dt = time.perf_counter() - t0
    val = float(c64[np.arange(500), np.asarray(perm)].mean())
    row = dict(eps_init_rel=e0, eps_factor=fac, rounds=int(rounds), ok=bool(ok), time_s=dt,
               us_per_round=dt / int(rounds) * 1e6, value_gap_vs_pot=val - ref)
    print(row, flush=True)
    rows.append(row)
  out = dict(pot_emd2_one_problem_s=pot_s, schedules=rows,
             date_utc=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
             load_average=os.getloadavg())
  os.makedirs(FLAGS.workdir, exist_ok=True)
  with open(os.path.join(FLAGS.workdir, "auction_schedule.json"), "w") as fh:
    json.dump(out, fh, indent=2)


if __name__ == "__main__":
  # Flags are defined only when run as a script, so importing this module
  # (tests, colabs) never clashes with another script's flags.
  flags.DEFINE_string("workdir", None, "Where to write auction_schedule.json.")
  flags.mark_flag_as_required("workdir")
  app.run(main)
