"""``cpu_v4`` with VAT's and WAR's settings re-selected at its own scale (``results/cpu_v5``).

``cpu_v4`` (20k training images) ran the settings ``tune_v3`` had chosen at 4k images and found VAT
above WAR on symmetric noise. ``results/tune_v4/stage8`` re-selected both methods at 20k images,
with the same protocol: 40% symmetric noise, one seed, clean validation split (the last 2000
training images), mean validation accuracy of the last 5 epochs, a grid around each method's
earlier best points:

* VAT: beta 1, radius 4 (85.48; beta 0.3 radius 4, the earlier choice: 85.18);
* WAR: beta 3, radius 0.5, confusion ground cost with floor 0.3 (83.45; radius 1, the earlier
  choice: 81.33).

Everything else is ``cpu_v4``'s. Declared here before the run (2026-12-04); its numbers are
reported whatever they are.
"""

import ml_collections

from experiments.noisy_labels.configs import cpu_v4


def get_config():
  c = cpu_v4.get_config()
  c.beta = ml_collections.ConfigDict(dict(vat=1.0, war=3.0))
  c.radius = ml_collections.ConfigDict(dict(vat=4.0, war=0.5))
  c.cost_floor = 0.3
  return c
