"""Paper-scale config: SVHN -> MNIST and USPS-style -> MNIST with the JUMBOT digits settings.

Reference (Fatras et al., 2021, digits code): DigitsCNN, batch 500 (50 per class, class-balanced
source), Adam 2e-4, eta1 = eta2 = 0.1, eta3 = 1, tau (rho) = 1, eps = 0.1, 10 source-only epochs
then 100 epochs. Published targets: USPS->MNIST 98.2 (JUMBOT) / 96.4 (DeepJDOT); SVHN->MNIST 98.9
/ 95.4. Needs the TFDS sets (svhn_cropped, mnist) prepared; USPS is not in TFDS, so the
``reverse:mnist_usps_style`` pair (USPS -> MNIST) uses real USPS from
``$WASSML_DATA_DIR/usps.npz`` when present and a USPS-style MNIST stand-in otherwise (then its
numbers are not comparable to the paper's).
"""

from experiments.domain_adaptation.configs import base

_SVHN_TRAIN = 73257


def get_config():
  c = base.base_config()
  c.name = "default"
  c.pairs = ["svhn_mnist", "reverse:mnist_usps_style"]   # SVHN->MNIST, USPS->MNIST
  c.seeds = [0, 1, 2]
  c.model = "digits_cnn"
  c.per_class = 50
  c.learning_rate = 2e-4
  steps_per_epoch = _SVHN_TRAIN // 500            # one source epoch of 500-image batches
  c.pretrain_steps = 10 * steps_per_epoch          # 10 source-only epochs
  c.steps = 100 * steps_per_epoch                  # 100 epochs
  c.eval_every = 5 * steps_per_epoch
  c.max_eval = 5000
  c.embedding_plot = "tsne"
  c.plot_all_plans = True
  return c
