"""Regularisation and robustness with OT (seeds 004 and 000; METHODS.md §3).

* WAR / VAT for learning with noisy labels: :mod:`~wassml.regularization.war` (losses, beta
  warm-up), :mod:`~wassml.regularization.adversarial` (the shared power-iteration routine),
  :mod:`~wassml.regularization.divergences` (KL, label OT) and
  :mod:`~wassml.regularization.ground_cost` (class ground costs).
* ARWGAN (a WGAN-GP on data reweighted towards a classifier's mistakes):
  :mod:`~wassml.regularization.arwgan`.
* Prediction with uncertainty (two-head model): :mod:`~wassml.regularization.uncertainty`.
* Unsupervised feature importance: :mod:`~wassml.regularization.feature_importance`.
"""

from wassml.regularization.adversarial import adversarial_direction
from wassml.regularization.adversarial import adversarial_regularizer
from wassml.regularization.adversarial import l2_normalize
from wassml.regularization.divergences import kl_divergence
from wassml.regularization.divergences import label_ot_divergence
from wassml.regularization.ground_cost import confusion_ground_cost
from wassml.regularization.ground_cost import confusion_matrix
from wassml.regularization.ground_cost import embedding_ground_cost
from wassml.regularization.ground_cost import uniform_ground_cost
from wassml.regularization.ground_cost import soft_confusion
from wassml.regularization.war import METHODS
from wassml.regularization.war import beta_schedule
from wassml.regularization.war import cross_entropy
from wassml.regularization.war import make_divergence
from wassml.regularization.war import regularized_loss

from wassml.regularization import arwgan
from wassml.regularization import feature_importance
from wassml.regularization import uncertainty
