"""Configs of the clustering experiment (``get_config() -> ml_collections.ConfigDict``)."""
