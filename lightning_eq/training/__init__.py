"""Fitting models and sweeping their hyperparameters."""
