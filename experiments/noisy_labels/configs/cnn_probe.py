"""A timing probe (``results/cnn_probe``): ``cpu_v6``'s settings with the paper's SmallCNN.

Asks what one tuning point costs on the 2-core CPU with the CNN of ``configs/default.py`` at
``cpu_v6``'s scale (20k training images, 40% symmetric noise, one seed, clean validation split):
3 epochs (1 CCE warm-up, 2 regularised), VAT and WAR at ``cpu_v6``'s settings. Run through
``tune.py``; it was stopped during the WAR point once the VAT point had given the answer.

``get_config("vat")`` (``--config=experiments/noisy_labels/configs/cnn_probe.py:vat``) keeps only
the VAT point: exactly the point timed in ``results/cnn_probe`` (574 s on the old
``jit(vmap(scan(scan(step))))`` path), to time it again on ``wassml.train.train_loop`` (use a
fresh workdir: a workdir holding its checkpoints resumes instead of retraining).
"""

import ml_collections

from experiments.noisy_labels.configs import cpu_v6


def get_config(point: str | None = None):
  """The probe; ``point`` (``"vat"`` or ``"war"``): only that method's grid point."""
  c = cpu_v6.get_config()
  c.model = "small_cnn"
  c.num_epochs, c.warmup_epochs = 3, 1
  c.tune = ml_collections.ConfigDict(dict(
      noise=("symmetric", 0.4), num_val=2000, num_seeds=1, last_epochs=1,
      base=dict(beta=dict(vat=1.0, war=5.0), radius=dict(vat=8.0, war=0.5), cost_floor=0.3,
                epsilon=0.2),
      grid=dict(vat=dict(beta=(1.0,)), war=dict(beta=(5.0,)))))
  if point:
    if point not in c.tune.grid:
      raise ValueError(f"cnn_probe: unknown point {point!r}; valid: {sorted(c.tune.grid)}.")
    c.tune.grid = ml_collections.ConfigDict({point: c.tune.grid[point].to_dict()})
  return c
