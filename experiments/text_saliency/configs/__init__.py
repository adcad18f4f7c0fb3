"""Configs of the text_saliency experiment: quick (CI), mid (committed run), default (paper)."""
