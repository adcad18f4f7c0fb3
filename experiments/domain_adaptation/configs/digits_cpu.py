"""``digits.py`` cut to what the 2-core CPU runs in about half an hour: one pair, 100 steps.

Declared before the run. The same pair, network, batches (500 + 500), optimiser and OT settings
as ``digits.py``; the differences, forced by the CPU, are:

- only ``digits_to_mnist`` (USPS-like -> MNIST);
- 100 adaptation steps per method instead of 1,000 (about 38 epochs of the 1,290-image source;
  the reference runs 100 epochs of the 7,291 USPS images, ~1,460 steps). A JUMBOT step at
  500 + 500 takes about 1.5 s here.
"""

from experiments.domain_adaptation.configs import digits


def get_config():
  c = digits.get_config()
  c.name = "digits_cpu"
  c.pairs = ["digits_to_mnist"]
  c.steps = 100
  c.eval_every = 25
  return c
