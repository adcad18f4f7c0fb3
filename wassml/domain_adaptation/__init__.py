"""Deep domain adaptation with minibatch OT: DeepJDOT, entropic DeepJDOT, JUMBOT (+ baselines).

One joint-distribution coupling ``C_ij = eta1 ||g(x_i^s) - g(x_j^t)||^2 + eta2 L(y_i^s,
f(g(x_j^t)))`` with the plan held fixed; DeepJDOT (exact OT), entropic DeepJDOT (Sinkhorn) and
JUMBOT (unbalanced Sinkhorn) differ only by the solver. Source-only and DANN share the harness.
"""

from wassml.domain_adaptation.batches import BalancedEpochBatches, DABatches
from wassml.domain_adaptation.dann import dann_schedule, domain_loss, gradient_reversal
from wassml.domain_adaptation.joint_cost import joint_cost, label_cost
from wassml.domain_adaptation.joint_ot_loss import JointOTOutput, joint_ot_loss
from wassml.domain_adaptation.model import DAModel, DomainDiscriminator
from wassml.domain_adaptation.partial import missing_class_mass_ratio, plan_mass_per_class
from wassml.domain_adaptation.predict import predict
from wassml.domain_adaptation.selection import (
    SELECTION_RULES, reverse_validation_score, select_index)
from wassml.domain_adaptation.solvers import (
    BASELINES, EXACT_METHODS, METHODS, OT_METHODS, make_solver)
from wassml.domain_adaptation.steps import (
    make_da_loss, make_da_step, make_dann_loss, make_joint_ot_loss, make_source_only_loss)

__all__ = [
    "BASELINES", "BalancedEpochBatches", "DABatches", "DAModel", "DomainDiscriminator",
    "EXACT_METHODS", "JointOTOutput", "METHODS", "OT_METHODS", "SELECTION_RULES",
    "dann_schedule", "domain_loss", "gradient_reversal", "joint_cost", "joint_ot_loss",
    "label_cost", "make_da_loss", "make_da_step", "make_dann_loss", "make_joint_ot_loss",
    "make_solver", "make_source_only_loss", "missing_class_mass_ratio", "plan_mass_per_class",
    "predict", "reverse_validation_score", "select_index",
]
