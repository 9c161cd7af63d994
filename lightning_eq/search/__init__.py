"""Sweeps, in one home: search spaces (``space``), the objective (``objective``), study storage (``storage``),
the runner that drives Optuna (``runner``) and how studies become choices (``selection``).

Everything Optuna lives here and nothing MLflow: tracking attaches from outside (``lightning_eq.tracking``)
through the objective wrapper and study callbacks the runner accepts, as in optuna-examples.
"""

DEFAULT_STORAGE = "sqlite:///mlruns/optuna.db"
