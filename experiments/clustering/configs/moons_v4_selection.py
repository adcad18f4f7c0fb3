"""Three moons, round 4 with Wasserstein model selection on (``results/moons_v4_selection``).

``configs/moons_v4.py`` (annealed code noise in step 1, critic-free Sinkhorn step 3) with model
selection over K = 2..6 switched on: step 1 once per seed (the accuracy runs' auto-encoders), then
steps 2-3 for every K with the same Sinkhorn step 3 (mixtures padded to K = 6), scored by the exact
``W_1`` between 500 stratified generated points and 500 of the 3000 held-out points, 8 batches
(``model_selection`` of ``configs/moons.py``: the same held-out draws for every K), K by
the one-standard-error rule (the smallest K whose mean is within one standard error of the best).

Why now: model selection with the Sinkhorn step 3 first ran this session on two development seeds
(``key(100)``, uncommitted ``runs/dev``) and "selected" K = 2 on both because every padded K's
generator had turned to NaN (zero-weight components gave NaN gradients in the Sinkhorn objective)
and the exact solver scored NaN points as 0. After the fix (``wassml.ot.sinkhorn``, tested) the same
development seeds selected K = 3 on 2 of 2 with this rule (1 of 2 with the plain minimum). The rule
and score were fixed then, before this run.

Only 3 seeds (the committed run's root seed 0): steps 2-3 for five K cost about 620 s per seed
on this CPU, and 10 seeds did not fit the session. It measures the K = 3 target on 3 seeds, not
the issue's 9 of 10.
"""

from experiments.clustering.configs import moons_v4


def get_config():
  c = moons_v4.get_config()
  c.num_seeds = 3
  ms = c.model_selection
  ms.enabled = True
  ms.num_seeds = 3
  ms.score = "exact"
  ms.also_exact = False
  ms.rule = "one_se"
  ms.p = 1.0
  ms.model_overrides = {}
  return c
