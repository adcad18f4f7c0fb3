"""``cpu_v6`` at 40% symmetric noise, trained twice as long (``results/cpu_v6_long``).

In ``results/cpu_v6`` both test curves at 40% symmetric noise were still rising at epoch 60 (VAT
by 0.025, WAR by 0.031 points per epoch over epochs 40-60), with VAT 0.99 ahead. This run asks
whether longer training changes the order: 120 epochs instead of 60, the same 8 warm-up epochs,
settings, data and seeds, 40% symmetric noise only. Declared here before the run (2026-12-05);
its numbers are reported whatever they are.
"""

from experiments.noisy_labels.configs import cpu_v6


def get_config():
  c = cpu_v6.get_config()
  c.noise = (("symmetric", 0.4),)
  c.num_epochs = 120
  return c
