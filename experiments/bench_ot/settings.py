"""wassml solver settings used by the benchmark, per regime (evidence in docs/ot.md)."""

# Exact: "auto" = host scipy linear_sum_assignment on a CPU backend.
EXACT = dict(method="auto")
# The JAX-native auction (the "auto" choice on GPU/TPU), reported as an extra column.
EXACT_AUCTION = dict(method="auction", chunk=64)
# The host path, timed as a third exact column on accelerators (where "auto" is the auction).
EXACT_HOST = dict(method="host")
# The auction as one batched while-loop under vmap, also timed on accelerators.
EXACT_AUCTION_PARALLEL = dict(method="auction", chunk=64, batching="parallel")
# Kernel mode is safe here: costs are normalised to [0, 1], so max C / eps = 20 (float32
# bound 50). L1 marginal tolerance 1e-5, checked every 10 iterations.
SINKHORN = dict(mode="kernel", tol=1e-5, check_every=10, num_iters=1000)
# max C / eps = 10; stop when log-scalings change by < 1e-5 per iteration.
UNBALANCED = dict(mode="kernel", tol=1e-5, check_every=10, num_iters=1000)
