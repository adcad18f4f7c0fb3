"""Three moons (layout of ``configs/quick.py``), 10 seeds for accuracy and for model selection over
K = 2..6, with the changes of the third round of issue #4 (see ``results/moons/README.md``):

* Step 1: a larger auto-encoder (2-128-128-128-1), trained with code noise (``ae_code_noise``:
  Gaussian noise of 0.05 times the batch code scale is added to the codes before decoding), 6
  restarts per seed, the restart of lowest (noise-free) training reconstruction error kept.
* The generative model has the observation noise of WAMiC's eq. 2, ``sigma`` = the auto-encoder's
  root mean squared residual (``output_noise="residual"``).
* Step 2: EM with 10 initialisations per fit (``gmm_n_init``), the highest likelihood kept.
* Step 3: the paper's small learning rates (1e-5 on decoder and mixture; 1e-4 on the critic), a
  short phase (longer / faster phases raised the exact held-out W in our trials).
* Model selection: step 1 once for all (the accuracy runs' auto-encoders), steps 2-3 for every K,
  scored as in the paper by a new critic trained between generated and held-out data (mean of the
  critic's estimates over batches), one-standard-error rule; the exact ``W_1`` between 1000
  stratified generated points and 1000 held-out points (8 batches) is reported too.
"""

from experiments.clustering.configs import quick


def get_config():
  c = quick.get_config()
  c.num_seeds = 10
  m = c.model
  m.hidden = (128, 128, 128)
  m.ae_steps, m.ae_restarts, m.ae_lr, m.ae_lr_schedule = 4000, 6, 1e-2, "cosine"
  m.ae_code_noise = 0.05
  m.output_noise = "residual"
  m.gmm_iters, m.gmm_n_init = 300, 10
  m.critic_warmup_steps, m.adv_steps, m.num_critic = 500, 1000, 5
  m.adv_per_component = 32
  m.adv_lr, m.mixture_lr, m.critic_lr = 1e-5, 1e-5, 1e-4
  m.encoder_steps, m.encoder_lr = 1000, 1e-3
  m.diwac_steps = 300
  ms = c.model_selection
  ms.num_seeds, ms.num_samples, ms.num_batches, ms.rule = 10, 500, 8, "one_se"
  ms.share_autoencoder = True
  ms.score, ms.critic_steps, ms.critic_lr = "critic", 1500, 1e-3
  ms.also_exact, ms.p, ms.stratified = True, 1.0, True
  ms.model_overrides = {"adv_per_component": 16}
  return c
