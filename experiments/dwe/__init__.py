"""Deep Wasserstein Embedding experiment (issue 8): see ``train.py`` and ``docs/dwe.md``."""
