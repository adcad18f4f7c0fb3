"""Deep domain adaptation experiments: source-only, DANN, DeepJDOT, entropic DeepJDOT, JUMBOT."""
