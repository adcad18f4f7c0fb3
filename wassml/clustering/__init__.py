"""Wasserstein clustering: WAMiC / GeWaC, DiWaC, Wasserstein model selection and baselines.

Modules: ``gmm`` (k-means, EM Gaussian mixtures), ``mixture`` (the reparametrised trainable
mixture), ``wamic`` (WAMiC / GeWaC state and steps), ``diwac_losses`` and ``diwac`` (DiWaC),
``pipeline`` (end-to-end runs and model selection). See ``docs/clustering.md``.
"""

from wassml.clustering import diwac, diwac_losses, gmm, mixture, pipeline, wamic
from wassml.clustering.diwac import DiwacState
from wassml.clustering.diwac_losses import (ovo_loss, ovr_loss, ovr_loss_definition,
                                            proportions, separation)
from wassml.clustering.gmm import (GMMParams, fit_gmm, kmeans, kmeans_plusplus, log_likelihood,
                                   predict, predict_proba)
from wassml.clustering.mixture import MixtureParams
from wassml.clustering.pipeline import (ClusteringConfig, check_inputs, run,
                                        run_model_selection)
from wassml.clustering.wamic import WamicState

__all__ = [
    "ClusteringConfig", "DiwacState", "GMMParams", "MixtureParams", "WamicState", "check_inputs",
    "diwac", "diwac_losses", "fit_gmm", "gmm", "kmeans", "kmeans_plusplus", "log_likelihood",
    "mixture", "ovo_loss", "ovr_loss", "ovr_loss_definition", "pipeline", "predict",
    "predict_proba", "proportions", "run", "run_model_selection", "separation", "wamic",
]
