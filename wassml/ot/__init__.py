"""wassml.ot: optimal transport core (pure functions, jit/vmap/grad-compatible).

See ``docs/ot.md`` for conventions, the POT/ott-jax parameter mapping and the
solver choices.
"""

from wassml.ot.costs import euclidean_power, sqeuclidean
from wassml.ot.critic import critic_loss, gradient_penalty
from wassml.ot.divergence import sinkhorn_divergence
from wassml.ot.exact import emd
from wassml.ot.ipot import ipot
from wassml.ot.label import check_ground_cost, label_ot
from wassml.ot.minibatch import complete_minibatch_ot, minibatch_ot, minibatch_plan_1d
from wassml.ot.pointcloud import pointcloud_ot, wasserstein
from wassml.ot.result import OTResult
from wassml.ot.sinkhorn import sinkhorn
from wassml.ot.sliced import sliced_wasserstein
from wassml.ot.unbalanced import unbalanced_sinkhorn

__all__ = [
    "OTResult",
    "check_ground_cost",
    "complete_minibatch_ot",
    "critic_loss",
    "emd",
    "euclidean_power",
    "gradient_penalty",
    "ipot",
    "label_ot",
    "minibatch_ot",
    "minibatch_plan_1d",
    "pointcloud_ot",
    "sinkhorn",
    "sinkhorn_divergence",
    "sliced_wasserstein",
    "sqeuclidean",
    "unbalanced_sinkhorn",
    "wasserstein",
]
