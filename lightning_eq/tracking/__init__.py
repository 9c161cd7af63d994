"""MLflow, and nothing else: runs of the sweeps (parent per study, child per trial), their figures, experiments
and datasets, the model registry and the champion. Importing this package is cheap; MLflow loads with the
modules that need it.
"""

DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"  # MLflow 3 refuses a plain folder; artifacts go to mlruns/artifacts
REGISTERED_MODEL = "lightning-eq"
CHAMPION = "champion"
