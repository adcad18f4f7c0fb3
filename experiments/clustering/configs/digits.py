"""Mid-size config: scikit-learn digits (1437 train images 8x8, 360 held out), 5 seeds vmapped.

A smaller auto-encoder than the paper's (64-128-128-256-10) and short phases, sized for a shared
2-core CPU.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.dataset = "digits"
  c.dataset_kwargs = {}
  c.max_examples = None
  c.max_heldout_examples = None
  c.heldout_split = "test"
  c.standardize = False
  c.num_clusters = 10
  c.seed = 0
  c.num_seeds = 5
  c.execution = "auto"
  c.raw_baselines = True
  c.raw_gmm_covariance = "diag"
  c.model = ml_collections.ConfigDict(dict(
      code_dim=10, hidden=(128, 128, 256), output_activation="sigmoid",
      critic_hidden=(128, 128), batch_size=128,
      ae_steps=2000, ae_lr=1e-3,
      gmm_covariance="full", gmm_iters=200, gmm_reg_covar=1e-4,
      critic_warmup_steps=200, adv_steps=400, adv_per_component=13, adv_lr=1e-4,
      critic_lr=1e-3, num_critic=3, gp_weight=10.0, concat=False, train_proportions=True,
      encoder_steps=500, encoder_lr=1e-4, latent_weight=0.0,
      run_diwac=True, diwac_loss="ovr_n", diwac_distill_steps=300, diwac_steps=400,
      diwac_lr=3e-4, diwac_num_critic=3, diwac_hidden=(64,), diwac_critic_hidden=(64, 64)))
  c.model_selection = ml_collections.ConfigDict(dict(enabled=False))
  c.plots = True
  return c
