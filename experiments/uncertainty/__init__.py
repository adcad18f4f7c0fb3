"""Prediction with uncertainty (two-head model) and unsupervised feature importance (issue 5)."""
