"""Datasets, domain-adaptation pairs, label noise and batch samplers.

``load(name, split)`` is the one registry (``list_datasets()`` names them); everything returns
:class:`Dataset` (numpy arrays with int32 labels; images ``[N, H, W, C]`` in [0, 1]).
"""

from wassml.data.dataset import DataNotFoundError, Dataset
from wassml.data.domain import domain_pair, list_domain_pairs
from wassml.data.fashion_mnist import read_idx
from wassml.data.noise import add_label_noise, noise_transition_matrix
from wassml.data.registry import is_offline, list_datasets, load
from wassml.data.sampling import balanced_batches, epoch_indices, num_batches, shuffle_batches
from wassml.data.text import tokenize
from wassml.data.tfds_source import source as tfds_source

__all__ = [
    "DataNotFoundError", "Dataset", "add_label_noise", "balanced_batches", "domain_pair", "epoch_indices",
    "is_offline", "list_datasets", "list_domain_pairs", "load", "noise_transition_matrix",
    "num_batches", "read_idx", "shuffle_batches", "tfds_source", "tokenize",
]
