"""Active learning for deep networks (Ducoffe 2018, part I and ch. 9).

A pool-based loop (:func:`run_pool_loop`) with query strategies selectable by name
(:func:`list_strategies`: random, uncertainty, BALD, CEAL, EGL, CORE-SET, DQBC, DFAL, BalNet and
Wasserstein prototypes), the reusable DeepFool attack (:mod:`.deepfool`), KFAC Fisher factors
(:mod:`.kfac`) and Wasserstein / MMD prototypes (:mod:`.prototypes`). See
``docs/active_learning.md``.
"""

from wassml.active_learning import coreset, committee, deepfool, kfac, prototypes, scores, strategies, training
from wassml.active_learning.classifier import Classifier
from wassml.active_learning.deepfool import DeepFoolResult, deepfool_batch
from wassml.active_learning.loop import LoopConfig, LoopResult, label_schedule, load_finished_loop, run_pool_loop
from wassml.active_learning.prototypes import (PrototypeResult, greedy_mmd_prototypes, greedy_wasserstein_prototypes,
                                               random_prototypes, wasserstein_to_target)
from wassml.active_learning.strategies import (STRATEGIES, Query, QueryContext, get_strategy, list_strategies,
                                               make_solver, select)

__all__ = [
    "Classifier", "DeepFoolResult", "LoopConfig", "LoopResult", "PrototypeResult", "Query", "QueryContext",
    "STRATEGIES", "coreset", "committee", "deepfool", "deepfool_batch", "get_strategy", "greedy_mmd_prototypes",
    "greedy_wasserstein_prototypes", "kfac", "label_schedule", "list_strategies", "load_finished_loop", "make_solver", "prototypes",
    "random_prototypes", "run_pool_loop", "scores", "select", "strategies", "training", "wasserstein_to_target",
]
