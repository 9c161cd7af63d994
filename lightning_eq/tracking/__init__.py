"""MLflow around the sweeps: runs (one parent per study, one child per trial), figures, the model registry.

Importing this package is cheap; MLflow loads with the modules that need it.
"""

DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"  # MLflow 3 refuses a plain folder; artifacts go to mlruns/artifacts
REGISTERED_MODEL = "lightning-eq"
CHAMPION = "champion"
