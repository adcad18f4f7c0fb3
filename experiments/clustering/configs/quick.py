"""Quick config (CI, about 2 min on 2 CPU cores): three moons, code dimension 1, 2 seeds.

Data layout (also used by ``configs/moons.py``): the registry's ``three_moons`` chain (noise 0.05
here) with the lower moon moved down by 0.25 and the third moon right by 0.47, so that the moons
stay interleaved (not linearly separable) but no two are closer than ~0.47 (the registry's moons
0 and 2 touch at ``(1, 0)``). Step 1 keeps the best of several auto-encoders by training
reconstruction loss (label-free).
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.dataset = "three_moons"
  c.dataset_kwargs = {"n_per_class": 1000, "noise": 0.05}
  # Moves the third moon right (0 keeps the registry's chain, where moons 0 and 2 touch) ...
  c.third_moon_shift = 0.47
  # ... and then each moon by (dx, dy): the lower (middle) moon 0.25 down.
  c.moon_offsets = ((0.0, 0.0), (0.0, -0.25), (0.0, 0.0))
  c.standardize = False
  c.num_clusters = 3
  c.seed = 0
  c.num_seeds = 2
  # wassml.train.train_loop: how the seeds (and auto-encoder restarts, and the K of model
  # selection) train ("auto": one after another on CPU, scanned and vmapped on GPU/TPU), how
  # often a phase checkpoints (0: at its end) and the period of the training curves.
  c.execution = "auto"
  c.checkpoint_every = 0
  c.log_every = 10
  c.raw_baselines = True
  c.raw_gmm_covariance = "full"
  c.model = ml_collections.ConfigDict(dict(
      code_dim=1, hidden=(64, 64), critic_hidden=(64, 64), batch_size=128,
      ae_steps=2000, ae_lr=1e-2, ae_lr_schedule="cosine", ae_restarts=4,
      critic_warmup_steps=50, adv_steps=150, adv_per_component=43, adv_lr=1e-5,
      mixture_lr=3e-3, critic_lr=1e-3, num_critic=3, encoder_steps=200, encoder_lr=1e-3,
      run_diwac=True, diwac_loss="ovr_n", diwac_distill_steps=100, diwac_steps=100,
      diwac_lr=1e-3, diwac_num_critic=3))
  c.model_selection = ml_collections.ConfigDict(dict(
      enabled=True, ks=(2, 3, 4, 5, 6), num_seeds=1, num_samples=300, num_batches=4,
      rule="one_se",
      model_overrides={"critic_warmup_steps": 50, "adv_steps": 60, "adv_per_component": 16}))
  c.plots = True
  return c
