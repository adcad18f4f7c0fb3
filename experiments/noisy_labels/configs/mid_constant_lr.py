"""Second mid-size CPU run: constant learning rate (no x0.1 decays) and more epochs per image,
the regime where CCE memorises the noisy labels within a CPU budget (the ``mid`` run's decays at
epochs 8 and 16 stop CCE from memorising in 24 epochs). Symmetric noise only, to fit the
session; 4k training images, 30 epochs (5 warm-up), 3 seeds."""

from experiments.noisy_labels.configs import mid


def get_config():
  c = mid.get_config()
  c.num_train = 4000
  c.num_epochs = 30
  c.warmup_epochs = 5
  c.lr_decay_at = ()
  c.noise = (("symmetric", 0.2), ("symmetric", 0.4))
  c.cost_examples = 4000
  c.plots.simplex = False
  c.plots.moons = False
  return c
