"""What a study's parent run shows: Optuna's figures, the chosen config, its test score, curves and checkpoint."""

from __future__ import annotations

import logging
import tempfile
import warnings
from pathlib import Path

import optuna
from mlflow import MlflowClient

from lightning_eq.config import Config, to_dict
from lightning_eq.models.store import StoredModel, save_model
from lightning_eq.tracking.runs import curves_figure, log_metrics

log = logging.getLogger(__name__)


def _log_plot(client: MlflowClient, run_id: str, plot, study: optuna.Study, name: str) -> None:
    """One optuna.visualization.matplotlib figure; a study too small for it (importances need 2+ trials) is skipped."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message="Some regimes for parameter")  # few trials: said in the figure's use
        try:
            ax = plot(study)
        except (ValueError, RuntimeError, ZeroDivisionError) as err:
            log.info("%s: no %s (%s)", study.study_name, name, err)
            return
    fig = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
    fig.set_size_inches(8, 5)
    fig.tight_layout()
    client.log_figure(run_id, fig, name)
    plt.close(fig)


def save_checkpoint(model, key: str, cfg: Config, out_dir: Path) -> list[Path]:
    """The model as ``<key>.pkl`` (models/store format, what predict loads) and, for a neural model, a Lightning
    ``.ckpt`` that ``EqHead.load_from_checkpoint`` reads."""
    paths = [save_model(StoredModel(key, cfg, model), out_dir)]
    module = getattr(model, "module", None)
    if module is not None:
        import lightning
        import torch

        path = out_dir / f"{key}.ckpt"
        torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams),
                    "pytorch-lightning_version": lightning.__version__}, path)
        paths.append(path)
    return paths


def log_study(client: MlflowClient, run_id: str, study: optuna.Study, key: str, cfg: Config, model, test_part, result) -> None:
    """Best values, test score, figures, the chosen config and its refitted model on the parent run."""
    from optuna.visualization import matplotlib as ovm

    metrics = {"best/val_mae_unit": result.val_mae_unit, "trials/finished": result.finished,
               "trials/pruned": result.pruned, "trials/failed": result.failed, **result.test}
    log_metrics(client, run_id, metrics)
    client.set_tag(run_id, "best_trial", str(result.best_trial))
    # Parameters cannot change once logged and a resumed study may find a new best: keep them in artifacts.
    client.log_dict(run_id, {"trial": result.best_trial, "params": result.best_params, "chosen": result.chosen,
                             "val/mae_unit": result.val_mae_unit, **result.test}, "best/summary.json")
    client.log_dict(run_id, to_dict(cfg), "best/config.json")
    _log_plot(client, run_id, ovm.plot_optimization_history, study, "optimization_history.png")
    _log_plot(client, run_id, ovm.plot_param_importances, study, "param_importances.png")
    if any(t.intermediate_values for t in study.get_trials(deepcopy=False)):  # epochs reported for pruning
        _log_plot(client, run_id, ovm.plot_intermediate_values, study, "intermediate_values.png")
    import matplotlib.pyplot as plt

    fig = curves_figure(test_part.words, model.predict(test_part.features, len(test_part.words)), test_part.curves_unit,
                        f"{study.study_name}: chosen config, test words (scored once)")
    client.log_figure(run_id, fig, "curves_test.png")
    plt.close(fig)
    with tempfile.TemporaryDirectory() as tmp:
        for path in save_checkpoint(model, key, cfg, Path(tmp)):
            client.log_artifact(run_id, str(path), "best_checkpoint")
