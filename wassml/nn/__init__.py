"""Flax linen models. Classifiers take ``train: bool`` (dropout rng ``'dropout'``, batch norm in
``batch_stats``) and ``return_features=True`` for their penultimate features."""

from wassml.nn.autoencoder import AutoEncoder
from wassml.nn import conv
from wassml.nn.cnn import VGG8, DigitsCNN, LeNet5, SmallCNN
from wassml.nn.critic import Critic
from wassml.nn.dwe import DWEDecoder, DWEEncoder
from wassml.nn.mlp import MLP
from wassml.nn.text import TextCNN

__all__ = ["AutoEncoder", "Critic", "DWEDecoder", "DWEEncoder", "DigitsCNN", "LeNet5", "MLP",
           "SmallCNN", "TextCNN", "VGG8", "conv"]
