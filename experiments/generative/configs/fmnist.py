"""Fashion-MNIST generators: minibatch Sinkhorn divergence vs WGAN-GP (issue #10).

Budget: both trainings together in ~35 min on a shared 2-core CPU, so an MLP generator
(64 -> 256 -> 512 -> 784, sigmoid), batch 128, a few thousand steps. The feature space of the
FID-like score is the supervised example's SmallCNN trained for 3 epochs on Fashion-MNIST.
"""

import ml_collections

from experiments.supervised.configs import default as supervised_default


def get_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.experiment = "fmnist"          # train.train_and_evaluate runs experiments/generative/fmnist
  c.seed = 0
  c.dataset = "fashion_mnist"
  c.max_train = -1                 # -1: all 60000 training images
  c.losses = ("sinkhorn_divergence", "wgan_gp")
  c.num_steps = 4000               # generator steps per loss
  c.batch_size = 128               # data (and generated) images per generator / critic step
  # Generator (wassml.generative.ImageGenerator).
  c.noise_dim = 64
  c.hidden = (256, 512)
  c.learning_rate = 1e-3           # Adam, OT losses
  # Minibatch OT loss settings (common.make_step); the Sinkhorn divergence uses the whole batch.
  c.epsilon = 5.0                  # absolute, on squared-Euclidean pixel costs (median ~130)
  c.minibatch_size = 128
  c.num_minibatches = 1
  c.rho = 1.0
  c.num_projections = 64
  # WGAN-GP (wassml.generative.wgan): Adam(lr, 0.5, 0.9) for generator and critic.
  c.wgan_learning_rate = 2e-4
  c.critic_hidden = (512, 256)
  c.critic_steps = 5
  c.gp_weight = 10.0
  # Evaluation.
  c.num_heldout = 100              # samples per snapshot (make_step's snapshot function)
  c.num_eval = 2000                # generated and real images per FID-like score
  c.eval_every = 500
  c.checkpoint_every = 500
  c.log_every = 100
  c.grid_size = 100                # images per sample grid (a square number)
  c.timing_steps = 30              # steps per timing round (after training, compiled)
  c.timing_rounds = 3              # interleaved rounds; the minimum is reported
  # Feature classifier: the supervised example's SmallCNN, fewer epochs.
  cls = supervised_default.get_config()
  cls.unlock()
  cls.epochs = 3
  cls.patience = 3
  c.classifier = cls
  return c
