"""Deep Wasserstein Embedding (DWE): exact W2 pair targets, the siamese model, and operations.

- :mod:`wassml.embedding.pairs`: images as histograms, exact ``W_2^2`` targets by ``wassml.ot.emd``.
- :mod:`wassml.embedding.dwe`: the encoder/decoder model, its loss and step functions.
- :mod:`wassml.embedding.operations`: pairwise estimates, barycenters, interpolation, PGA,
  nearest neighbours, and the exact/entropic baselines used in comparisons.
"""

from wassml.embedding.dwe import (DWE, DWELossWeights, Embedder, as_model_input, dwe_loss,
                                  embedder, kl_reconstruction, make_eval_step, make_loss_fn,
                                  make_train_step, regression_scores, sparsity_penalty,
                                  squared_distance)
from wassml.embedding.operations import (PGA, barycenter, barycenter_embedding,
                                         displacement_interpolation, entropic_barycenter,
                                         independent_w2, interpolate, nearest_neighbours,
                                         pairwise_sq_distances, pairwise_w2, pga, pga_modes)
from wassml.embedding.pairs import (PairSet, check_same_grid, chunk_pair_indices,
                                    generate_pairs, grid_cost, image_shape, pair_targets,
                                    sample_pair_indices, to_histograms, w2_squared)
