"""wassml.ot: optimal transport core (pure functions, jit/vmap/grad-compatible).

See ``docs/ot.md`` for the contract (``OTResult``, ``return_output=``, one stopping
convention), the POT/ott-jax parameter mapping and the measured cost of the defaults.
"""

from wassml.ot.barycenters import BarycenterOutput, barycenter, barycenter_exact
from wassml.ot.costs import euclidean_power, sqeuclidean
from wassml.ot.critic import critic_loss, gradient_penalty
from wassml.ot.divergence import (DivergenceOutput, sinkhorn_divergence,
                                  unbalanced_sinkhorn_divergence)
from wassml.ot.exact import emd
from wassml.ot.ipot import ipot
from wassml.ot.label import check_ground_cost, label_ot
from wassml.ot.minibatch import (MinibatchOutput, complete_minibatch_ot, minibatch_ot,
                                 minibatch_plan_1d)
from wassml.ot.one_dim import wasserstein_1d
from wassml.ot.online import online_sinkhorn, online_sinkhorn_loss
from wassml.ot.ott_adapter import ott_solver
from wassml.ot.partial import entropic_partial_wasserstein, partial_wasserstein
from wassml.ot.pointcloud import pointcloud_ot, wasserstein
from wassml.ot.result import OTResult
from wassml.ot.sinkhorn import sinkhorn
from wassml.ot.sliced import sliced_wasserstein
from wassml.ot.unbalanced import unbalanced_sinkhorn

__all__ = [
    "BarycenterOutput",
    "DivergenceOutput",
    "MinibatchOutput",
    "OTResult",
    "barycenter",
    "barycenter_exact",
    "check_ground_cost",
    "complete_minibatch_ot",
    "critic_loss",
    "emd",
    "entropic_partial_wasserstein",
    "euclidean_power",
    "gradient_penalty",
    "ipot",
    "label_ot",
    "minibatch_ot",
    "minibatch_plan_1d",
    "online_sinkhorn",
    "online_sinkhorn_loss",
    "ott_solver",
    "partial_wasserstein",
    "pointcloud_ot",
    "sinkhorn",
    "sinkhorn_divergence",
    "sliced_wasserstein",
    "sqeuclidean",
    "unbalanced_sinkhorn",
    "unbalanced_sinkhorn_divergence",
    "wasserstein",
    "wasserstein_1d",
]
