"""results/cpu_transfer: Table 4.4's form, queries chosen with LeNet5 and used to train VGG8.

The loops of random, DFAL and CORE-SET of ``cpu.py`` (same data, model, schedule, seeds, training,
candidate sets) are rerun, because ``results/cpu`` did not keep its loop states, and their final
labelled sets (1000 annotations; DFAL's with its adversarial copies) train ``cpu.py``'s narrow VGG8
(widths 16-32-32-64-64, dense 256; 30 epochs clipped to [200, 1500] steps, 3 seeds). The curves
are a replication of ``results/cpu``'s for these three strategies (compared in the README). The
full-data reference is the converged one of ``results/cpu_all`` (reused, not retrained).
Declared before the run.
"""

from experiments.active_learning.configs import cpu_all


def get_config():
  c = cpu_all.get_config()
  c.strategies = ("random", "dfal", "coreset")
  c.full_data_from = "experiments/active_learning/results/cpu_all/results.json"
  c.parts.transfer = True
  return c
