"""benchmarks/gpu_check/gpu_check.py repeats two pieces of the project so that it runs on a machine with only
torch, lightning and numpy: the head's default settings and the inner folds. They must stay the project's."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from lightning_eq.config import HeadConfig
from lightning_eq.search.objective import inner_fold_of

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check" / "gpu_check.py"


def load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_gpu_check_trains_the_default_head():
    defaults = HeadConfig().model_dump()
    head = load_script().HEAD
    assert head == {k: defaults[k] for k in head}


def test_the_gpu_check_deals_the_inner_folds_as_the_objective_does(data):
    assert load_script().folds(data.words, 4) == inner_fold_of(data.words, 4)
