"""What runs show besides numbers: curve plots, a study's Optuna figures and summary, the refitted model."""

from __future__ import annotations

import logging
import tempfile
import warnings
from pathlib import Path

from lightning_eq.config import Config, to_dict
from lightning_eq.tracking.runs import log_metrics

log = logging.getLogger(__name__)
PLOT_WORDS = 6


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def curves_figure(words, pred_unit, true_unit, title: str):
    """Predicted (line) against true (mean of the word's records, dashed) curves, unit scale, a few words."""
    import numpy as np

    from lightning_eq.curves import BAND_CENTRES_HZ
    from lightning_eq.models.metrics import group_means

    plt = _pyplot()
    names, true_w = group_means(np.asarray(true_unit), words)
    _, pred_w = group_means(np.asarray(pred_unit), words)
    shown = names[:: max(1, len(names) // PLOT_WORDS)][:PLOT_WORDS]
    fig, axes = plt.subplots(2, 3, figsize=(10, 5), sharex=True, sharey=True)
    for ax, word in zip(axes.flat, shown):
        i = names.index(word)
        ax.semilogx(BAND_CENTRES_HZ, pred_w[i], label="predicted")
        ax.semilogx(BAND_CENTRES_HZ, true_w[i], "--", label="true (word mean)")
        ax.set_title(word, fontsize=9)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def log_curves(client, run_id: str, words, pred_unit, true_unit, title: str, name: str) -> None:
    fig = curves_figure(words, pred_unit, true_unit, title)
    client.log_figure(run_id, fig, name)
    _pyplot().close(fig)


def _log_plot(client, run_id: str, plot, study, name: str) -> None:
    """One optuna.visualization.matplotlib figure; a study too small for it (importances need 2+ trials) is skipped."""
    import optuna

    plt = _pyplot()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message="Some regimes for parameter")
        try:
            ax = plot(study)
        except (ValueError, RuntimeError, ZeroDivisionError) as err:
            log.info("%s: no %s (%s)", study.study_name, name, err)
            return
    fig = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
    fig.set_size_inches(8, 5)
    with warnings.catch_warnings():  # a plot of many parameters keeps matplotlib's own layout
        warnings.filterwarnings("ignore", message="Tight layout not applied")
        fig.tight_layout()
    client.log_figure(run_id, fig, name)
    plt.close(fig)


def log_study(client, run_id: str, study, summary: dict) -> None:
    """On the study's parent run: the objective of the best trial and of the default (metrics the runs table
    shows), trial counts, the best configuration (``summary``: ``search.selection.study_summary``), and Optuna's
    figures of ``study``."""
    from optuna.visualization import matplotlib as ovm

    log_metrics(client, run_id, {
        "best/val_mae_unit": summary["best_value"], "best/val_mae_unit_se": summary["best_se"],
        "default/val_mae_unit": summary["default_value"], "default/val_mae_unit_se": summary["default_se"],
        "trials/finished": summary["complete"] + summary["pruned"], "trials/complete": summary["complete"],
        "trials/pruned": summary["pruned"], "trials/failed": summary["failed"]})
    client.set_tag(run_id, "best_trial", str(summary["best_trial"]))
    client.log_dict(run_id, {k: v for k, v in summary.items() if k != "best_config"}, "best/summary.json")
    client.log_dict(run_id, summary["best_config"], "best/config.json")
    _log_plot(client, run_id, ovm.plot_optimization_history, study, "optimization_history.png")
    _log_plot(client, run_id, ovm.plot_param_importances, study, "param_importances.png")
    if any(t.intermediate_values for t in study.get_trials(deepcopy=False)):
        _log_plot(client, run_id, ovm.plot_intermediate_values, study, "intermediate_values.png")


def log_refit(client, run_id: str, key: str, cfg: Config, model, test: dict[str, float] | None = None,
              default_test: dict[str, float] | None = None, curves: tuple | None = None) -> None:
    """The refitted best configuration on a parent run: its test scores (scored once), the default's beside them,
    a plot of its test curves and the model itself (``best_checkpoint/``: the models/store pickle that predict
    loads and, for a neural model, the network's state dict)."""
    from lightning_eq.models.store import StoredModel, save_model

    if test:
        log_metrics(client, run_id, test)
    if default_test:
        log_metrics(client, run_id, {f"default/{k}": v for k, v in default_test.items()})
    if curves is not None:
        log_curves(client, run_id, *curves, "curves_test.png")
    with tempfile.TemporaryDirectory() as tmp:
        paths = [save_model(StoredModel(key, cfg, model, test or {}), tmp)]
        if hasattr(model, "torch_net"):
            import torch

            net = model.torch_net()
            path = Path(tmp) / f"{key}.pt"
            torch.save({"state_dict": net.state_dict(), "input_dims": net.input_dims, "kind": net.kind,
                        "head": to_dict(cfg.head)}, path)
            paths.append(path)
        for path in paths:
            client.log_artifact(run_id, str(path), "best_checkpoint")
