"""Generative modelling with OT losses.

- :mod:`wassml.generative.losses`: minibatch OT losses by name (exact, Sinkhorn, unbalanced,
  Sinkhorn divergence, sliced) and the exact ``W_2`` used to evaluate fits.
- :mod:`wassml.generative.fitting`: the minimum (minibatch) Wasserstein estimator: a pure
  generator-fitting step for any of those losses, and a scan-chunked ``fit`` loop.
- :mod:`wassml.generative.wgan`: WGAN-GP, the adversarial alternative through the same step
  interface (shared with ARWGAN).
- :mod:`wassml.generative.theory`: the minibatch-OT illustrations (1-D closed-form plan,
  class connections, deviation bound, bias).
"""

from wassml.generative import fitting, losses, theory, wgan
from wassml.generative.fitting import (GeneratorState, create_generator_state, fit,
                                       make_ot_fitting_step, sample)
from wassml.generative.losses import LOSSES, exact_w2, minibatch_loss

__all__ = ["GeneratorState", "LOSSES", "create_generator_state", "exact_w2", "fit", "fitting",
           "losses", "make_ot_fitting_step", "minibatch_loss", "sample", "theory", "wgan"]
