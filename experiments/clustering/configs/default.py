"""Paper-scale config: WAMiC on MNIST through TFDS (for a machine with a network or a GPU).

Settings of Harchaoui et al. 2018: encoder ``784-500-500-2000-10`` (DEC / VaDE), full-covariance
EM on the codes, Adam 1e-5 in the adversarial phase, K = 10, 70 000 images (train + test are
clustered together as in DEC; here the train split's 60 000, test used as held-out data).
Target: 98.42% accuracy (Table 1). Runs ~1e5 adversarial iterations: hours on a GPU.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.dataset = "mnist"  # wassml.data.load('mnist') goes through TFDS
  c.dataset_kwargs = {}
  c.max_examples = None
  c.max_heldout_examples = None
  c.heldout_split = "test"
  c.standardize = False
  c.num_clusters = 10
  c.seed = 0
  c.num_seeds = 5
  # wassml.train.train_loop: "auto" steps the seeds one after another on CPU and scans them
  # (vmapped) on an accelerator; every phase checkpoints every 5000 steps (resume).
  c.execution = "auto"
  c.checkpoint_every = 5000
  c.scan_steps = 100  # minibatches of a scanned chunk are stacked on the host
  c.raw_baselines = True
  c.raw_gmm_covariance = "diag"  # "GMM (diagonal covariance)" row of Table 1
  c.model = ml_collections.ConfigDict(dict(
      code_dim=10, hidden=(500, 500, 2000), output_activation="sigmoid",
      critic_hidden=(512, 512, 512), batch_size=256,
      ae_steps=50_000, ae_lr=1e-4,
      gmm_covariance="full", gmm_iters=300, gmm_reg_covar=1e-4,
      critic_warmup_steps=5_000, adv_steps=100_000, adv_per_component=26, adv_lr=1e-5,
      critic_lr=1e-5, num_critic=5, gp_weight=10.0, concat=False, train_proportions=True,
      encoder_steps=20_000, encoder_lr=1e-5, latent_weight=0.0,
      run_diwac=True, diwac_loss="ovr_n", diwac_distill_steps=2_000, diwac_steps=20_000,
      diwac_lr=1e-5, diwac_num_critic=5, diwac_hidden=(256,), diwac_critic_hidden=(256, 256)))
  c.model_selection = ml_collections.ConfigDict(dict(
      enabled=False, ks=(6, 8, 10, 12, 14), num_seeds=3, num_samples=1000, num_batches=5,
      model_overrides={}))
  c.plots = True
  return c
