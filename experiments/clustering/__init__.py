"""Wasserstein clustering experiments: WAMiC / GeWaC, DiWaC, model selection and baselines."""
