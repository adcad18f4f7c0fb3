"""Generative modelling with OT losses.

- :mod:`wassml.generative.losses`: minibatch OT losses by name (exact, Sinkhorn, unbalanced,
  Sinkhorn divergence, sliced) and the exact ``W_2`` used to evaluate fits.
- :mod:`wassml.generative.fitting`: the minimum (minibatch) Wasserstein estimator: a pure
  generator-fitting step for any of those losses, and ``fit``, which runs it with
  ``wassml.train.train_loop``.
- :mod:`wassml.generative.wgan`: WGAN-GP, the adversarial alternative through the same step
  interface (shared with ARWGAN).
- :mod:`wassml.generative.models`: an MLP image generator (pixels in ``[0, 1]``).
- :mod:`wassml.generative.theory`: the minibatch-OT illustrations (1-D closed-form plan,
  class connections, deviation bound, bias).
"""

from wassml.generative import fitting, losses, models, theory, wgan
from wassml.generative.fitting import (GeneratorState, create_generator_state, fit,
                                       make_ot_fitting_step, sample)
from wassml.generative.losses import LOSSES, exact_w2, minibatch_loss
from wassml.generative.models import ImageGenerator

__all__ = ["GeneratorState", "ImageGenerator", "LOSSES", "create_generator_state", "exact_w2",
           "fit", "fitting", "losses", "make_ot_fitting_step", "minibatch_loss", "models",
           "sample", "theory", "wgan"]
