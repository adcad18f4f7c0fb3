"""wassml solver settings timed by the benchmark, per column (evidence in docs/ot.md).

The first column of every row is the call a user writes without tuning: no settings at all.
"""

# Exact: the default call. On a CPU backend "auto" = scipy's linear_sum_assignment on the host.
EXACT = dict()
# The JAX-native auction (the "auto" choice on GPU/TPU), reported as an extra column.
EXACT_AUCTION = dict(method="auction", chunk=64)
# The host path, timed as a third exact column on accelerators (where "auto" is the auction).
EXACT_HOST = dict(method="host")
# The auction as one batched while-loop under vmap, also timed on accelerators.
EXACT_AUCTION_PARALLEL = dict(method="auction", chunk=64, batching="parallel")

# Entropic: the default call (mode="auto": log-stabilised scaling; tol 1e-5 L1 in float32),
# then each explicit mode with the same tolerance.
ENTROPIC_DEFAULT = dict()
ENTROPIC_MODES = {"kernel": dict(mode="kernel"), "log": dict(mode="log")}
