"""A timing probe (``results/cnn_probe``): ``cpu_v6``'s settings with the paper's SmallCNN.

Asks what one tuning point costs on the 2-core CPU with the CNN of ``configs/default.py`` at
``cpu_v6``'s scale (20k training images, 40% symmetric noise, one seed, clean validation split):
3 epochs (1 CCE warm-up, 2 regularised), VAT and WAR at ``cpu_v6``'s settings. Run through
``tune.py``; it was stopped during the WAR point once the VAT point had given the answer.
"""

import ml_collections

from experiments.noisy_labels.configs import cpu_v6


def get_config():
  c = cpu_v6.get_config()
  c.model = "small_cnn"
  c.num_epochs, c.warmup_epochs = 3, 1
  c.tune = ml_collections.ConfigDict(dict(
      noise=("symmetric", 0.4), num_val=2000, num_seeds=1, last_epochs=1,
      base=dict(beta=dict(vat=1.0, war=5.0), radius=dict(vat=8.0, war=0.5), cost_floor=0.3,
                epsilon=0.2),
      grid=dict(vat=dict(beta=(1.0,)), war=dict(beta=(5.0,)))))
  return c
