"""Quick config (CI, <= 75 s on 2 CPU cores): a Fashion-MNIST subset, an MLP, 40% symmetric noise."""

from experiments.noisy_labels.configs import default


def get_config():
  c = default.get_config()
  c.num_train = 2000
  c.num_test = 2000
  c.model = "mlp"
  c.hidden = (256,)
  c.noise = (("symmetric", 0.4),)
  c.num_seeds = 1
  c.num_epochs = 20
  c.warmup_epochs = 4
  c.batch_size = 100
  c.lr_decay_at = ()
  c.cost_examples = 2000
  c.progress = False
  c.plots.simplex = True
  c.plots.moons = True
  c.moons.steps = 400
  c.moons.warmup_steps = 100
  return c
