"""Mid-size config for a 2-core CPU (the committed results): a 6k-image Fashion-MNIST training
subset, the full 10k test set, an MLP 784-256-10, 24 epochs (4 warm-up), 3 noise settings x
3 seeds x 3 methods. Same code path and schedule shape as ``default`` (paper scale, GPU)."""

from experiments.noisy_labels.configs import default


def get_config():
  c = default.get_config()
  c.num_train = 6000
  c.num_test = 10000
  c.model = "mlp"
  c.hidden = (256,)
  c.num_epochs = 24
  c.warmup_epochs = 4
  c.batch_size = 128
  c.cost_examples = 6000
  return c
