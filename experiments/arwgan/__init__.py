"""ARWGAN on Fashion-MNIST: generate class data that a classifier misclassifies (issue 5)."""
