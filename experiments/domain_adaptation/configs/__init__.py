"""Configs of the domain-adaptation experiments (``get_config() -> ConfigDict``)."""
