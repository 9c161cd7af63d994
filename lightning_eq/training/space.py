"""Search spaces: ``sweeps/<model>.yaml`` read, validated on load and turned into Optuna suggestions.

A file has four sections; an unknown key, a wrong type or a bad range anywhere is a ConfigError::

    model: glove                                # must match the file name
    sweep: {trials: 8, pruner: median}          # SweepConfig fields: budget, pruner, heartbeat
    fixed: {head: {max_epochs: 40}}             # Config overrides applied to every trial
    space:                                      # dotted Config field -> how Optuna suggests it
      head.dropout: {low: 0.0, high: 0.5}                           # float field: suggest_float
      head.lr: {low: 0.003, high: 0.3, log: true}
      head.hidden_sizes: {depth: [1, 3], width: [32, 512], log: true}   # depth, then one width per layer
      head.scheduler: {choices: [step, cosine]}                     # any field: suggest_categorical
      head.lr_step_updates: {low: 50, high: 2000, log: true, when: {head.scheduler: step}}

A list field other than ``hidden_sizes`` (``baseline.knn_k``) takes one suggested value, stored as ``[value]``.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lightning_eq.config import EMBEDDER_KEYS, Config, from_dict, load_yaml, merge
from lightning_eq.errors import ConfigError

DEFAULT_SWEEPS_DIR = Path(__file__).resolve().parents[2] / "sweeps"
PRUNERS = ("median", "hyperband", "none")
# Values a setting may take (intervals); checked for ranges, choices and `fixed`.
RANGES: dict[str, str] = {
    "head.dropout": "[0, 1)", "head.input_dropout": "[0, 1)", "head.momentum": "[0, 1)", "head.lr": "(0, inf)",
    "head.weight_decay": "[0, inf)", "head.lr_gamma": "(0, 1]", "head.lr_step_updates": "[1, inf)",
    "head.batch_size": "[1, inf)", "head.max_epochs": "[1, inf)", "head.attention_dim": "[1, inf)",
    "head.hidden_sizes": "[1, inf)", "baseline.knn_k": "[1, inf)", "baseline.ridge_alpha": "(0, inf)",
    "embedders.gpt_layer": "[-1, 64]",
}
CHOICES: dict[str, tuple] = {
    "head.optimizer": ("sgd", "adam"),
    "head.scheduler": ("step", "cosine", "none"),
    "baseline.embedder": EMBEDDER_KEYS,
    "trainer.accelerator": ("auto", "cpu", "gpu", "cuda", "mps"),
}
SPEC_KEYS = {"float": {"low", "high", "log", "step", "when"}, "int": {"low", "high", "log", "step", "when"},
             "categorical": {"choices", "when"}, "layers": {"depth", "width", "log", "when"}}


@dataclass
class SweepConfig:
    """How a study runs: its budget, sampler seed, pruner and fault handling."""

    trials: int = 8  # finished (complete or pruned) trials per study, over all workers
    timeout_s: float = 0.0  # stop asking for new trials after this long (per worker); 0 = no limit
    seed: int = 0  # TPE seed; worker i samples with seed + i
    n_startup_trials: int = 4  # random trials before TPE models the space; the median pruner waits as long
    pruner: str = "median"  # median | hyperband | none
    warmup_epochs: int = 5  # epochs a trial always runs before it may be pruned
    heartbeat_interval_s: int = 5  # a running trial records a heartbeat this often
    grace_period_s: int = 20  # no heartbeat for this long: the trial is failed and retried
    max_retry: int = 2  # times a trial whose worker died is retried


@dataclass(frozen=True)
class Param:
    """One searched setting. ``path`` is a dotted Config field, also the Optuna parameter name."""

    path: str
    kind: str  # float | int | categorical | layers
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple = ()
    depth: tuple[int, int] = (1, 1)
    width: tuple[int, int] = (1, 1)
    when: tuple[str, Any] | None = None
    wrap: bool = False  # a list field that takes one value


@dataclass
class SweepSpec:
    """A validated sweeps/<model>.yaml."""

    model: str
    path: Path
    sweep: SweepConfig = field(default_factory=SweepConfig)
    fixed: dict = field(default_factory=dict)
    params: tuple[Param, ...] = ()

    def base_config(self, cfg: Config) -> Config:
        """``cfg`` with this file's ``fixed`` settings applied."""
        return checked_merge(cfg, self.fixed, f"{self.path}: fixed")


def checked_merge(cfg: Config, nested: dict, where: str) -> Config:
    """``merge`` whose every error names ``where`` (the config's own checks do not know the file)."""
    try:
        return merge(cfg, nested, where)
    except ConfigError as err:
        if where in str(err):
            raise
        raise ConfigError(f"{where}: {err}") from err


def check_fixed(fixed: dict, where: str) -> None:
    """Fixed settings must be config fields with acceptable values."""
    if not isinstance(fixed, dict):
        raise ConfigError(f"{where}: expected a mapping of settings such as {{head: {{max_epochs: 40}}}}, got {fixed!r}.")
    for key, value in flatten(fixed).items():
        check_value(key, value, where)
    checked_merge(Config(), fixed, where)


def with_overrides(spec: SweepSpec, overrides: dict | None) -> SweepSpec:
    """``spec`` with nested ``overrides`` (``--set head.max_epochs=5``) on top of its ``fixed``; validated.
    An overridden setting leaves the search space (with the parameters that only apply to its other values)."""
    if not overrides:
        return spec
    values = flatten(overrides)
    fixed = nest({**flatten(spec.fixed), **values})
    check_fixed(fixed, "overrides")
    params = []
    for p in spec.params:
        if p.path in values or (p.when is not None and p.when[0] in values and values[p.when[0]] != p.when[1]):
            continue
        params.append(dataclasses.replace(p, when=None) if p.when is not None and p.when[0] in values else p)
    return dataclasses.replace(spec, fixed=fixed, params=tuple(params))


def field_type(path: str, where: str) -> Any:
    """The annotated type of the dotted Config field ``path``; a ConfigError names the known fields."""
    cls: Any = Config
    parts = path.split(".")
    for i, name in enumerate(parts):
        hints = typing.get_type_hints(cls) if dataclasses.is_dataclass(cls) else {}
        if name not in hints:
            known = ", ".join(sorted(hints)) or "none (it is a setting, not a section)"
            raise ConfigError(f"{where}: {path!r} is not a config field; fields of {'.'.join(parts[:i]) or 'the config'}: {known}.")
        cls = hints[name]
    if dataclasses.is_dataclass(cls):
        raise ConfigError(f"{where}: {path!r} is a section; name one of its fields, e.g. {path}.{dataclasses.fields(cls)[0].name}.")
    return cls


def check_value(path: str, value: Any, where: str) -> None:
    """Reject a value outside what the setting accepts (RANGES, CHOICES)."""
    if path in CHOICES and value not in CHOICES[path]:
        raise ConfigError(f"{where}: {path} = {value!r}; choose from {', '.join(map(str, CHOICES[path]))}.")
    if path in RANGES:
        interval = RANGES[path]
        lo, hi = (float(v) for v in interval[1:-1].split(","))
        for v in value if isinstance(value, list) else [value]:
            if not ((lo <= v if interval[0] == "[" else lo < v) and (v <= hi if interval[-1] == "]" else v < hi)):
                raise ConfigError(f"{where}: {path} = {v!r} is outside {interval}.")


def _pair(value: Any, what: str, where: str) -> tuple[int, int]:
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise ConfigError(f"{where}: {what} must be [min, max] integers, got {value!r}.")
    if value[0] > value[1]:
        raise ConfigError(f"{where}: {what} {value!r} has min above max.")
    return value[0], value[1]


def _number(spec: dict, name: str, where: str) -> float:
    value = spec.get(name)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ConfigError(f"{where}: {name} must be a number, got {value!r}.")
    return value


def parse_param(path: str, spec: Any, earlier: dict[str, Param], where: str) -> Param:
    """One ``space`` entry, validated against the Config field it sets."""
    where = f"{where}: space.{path}"
    hint = field_type(path, where)
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: expected a mapping such as {{low: 0.0, high: 0.5}} or {{choices: [a, b]}}, got {spec!r}.")
    is_list = typing.get_origin(hint) is list
    item = typing.get_args(hint)[0] if is_list else hint
    if "choices" in spec:
        kind = "categorical"
    elif path == "head.hidden_sizes":
        kind = "layers"
    elif item in (int, float):
        kind = item.__name__
    else:
        raise ConfigError(f"{where}: a {getattr(item, '__name__', item)} setting needs `choices: [...]`.")
    unknown = sorted(set(spec) - SPEC_KEYS[kind])
    if unknown:
        raise ConfigError(f"{where}: unknown key {', '.join(map(repr, unknown))}; a {kind} parameter takes {', '.join(sorted(SPEC_KEYS[kind]))}.")
    when = None
    if "when" in spec:
        cond = spec["when"]
        if not (isinstance(cond, dict) and len(cond) == 1):
            raise ConfigError(f"{where}: when must be one {{parameter: value}} pair, got {cond!r}.")
        (other, value), = cond.items()
        if other not in earlier or earlier[other].kind != "categorical" or value not in earlier[other].choices:
            raise ConfigError(f"{where}: when refers to {other}={value!r}, which is not a choice of an earlier categorical parameter.")
        when = (other, value)
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"{where}: log must be true or false, got {log!r}.")
    if kind == "categorical":
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}: choices must be a non-empty list, got {choices!r}.")
        for c in choices:
            if not isinstance(c, (str, int, float, bool)):
                raise ConfigError(f"{where}: each choice must be a single value (text, number or true/false), got {c!r}.")
            value = [c] if is_list else c
            check_value(path, value, where)
            checked_merge(Config(), nest({path: value}), where)  # type check against the field
        return Param(path, kind, choices=tuple(choices), when=when, wrap=is_list)
    if kind == "layers":
        depth, width = _pair(spec.get("depth"), "depth", where), _pair(spec.get("width"), "width", where)
        if depth[0] < 0 or width[0] < 1:
            raise ConfigError(f"{where}: depth must be >= 0 and width >= 1, got depth {list(depth)}, width {list(width)}.")
        return Param(path, kind, depth=depth, width=width, log=log, when=when)
    low, high = _number(spec, "low", where), _number(spec, "high", where)
    if kind == "int" and not (isinstance(low, int) and isinstance(high, int)):
        raise ConfigError(f"{where}: {path} is an integer setting; low and high must be integers, got {low!r}, {high!r}.")
    if not low < high:
        raise ConfigError(f"{where}: low ({low}) must be below high ({high}); to fix a value, put it under `fixed:`.")
    if log and low <= 0:
        raise ConfigError(f"{where}: a log-scale range needs low > 0, got {low}.")
    step = spec.get("step")
    if step is not None and (log or _number(spec, "step", where) <= 0):
        raise ConfigError(f"{where}: step must be a positive number and cannot be combined with log: true.")
    check_value(path, low, where)
    check_value(path, high, where)
    return Param(path, kind, low=low, high=high, log=log, step=step, when=when, wrap=is_list)


def nest(values: dict[str, Any]) -> dict:
    """{"head.lr": 0.1} -> {"head": {"lr": 0.1}}."""
    out: dict = {}
    for path, value in values.items():
        *sections, name = path.split(".")
        node = out
        for s in sections:
            node = node.setdefault(s, {})
        node[name] = value
    return out


def flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in data.items():
        out.update(flatten(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def parse_spec(data: dict, path: Path, model: str | None = None) -> SweepSpec:
    """Validate a loaded YAML mapping; ``model`` (from the file name) must match its ``model:``."""
    where = str(path)
    unknown = sorted(set(data) - {"model", "sweep", "fixed", "space"})
    if unknown:
        raise ConfigError(f"{where}: unknown section {', '.join(map(repr, unknown))}; sections: model, sweep, fixed, space.")
    if model is not None and data.get("model") != model:
        raise ConfigError(f"{where}: model is {data.get('model')!r} but the file is named for {model!r}; make them agree.")
    sweep = from_dict(SweepConfig, data.get("sweep"), f"{where}: sweep")
    if sweep.pruner not in PRUNERS:
        raise ConfigError(f"{where}: sweep.pruner is {sweep.pruner!r}; use one of {', '.join(PRUNERS)}.")
    if sweep.trials < 1 or sweep.timeout_s < 0 or sweep.heartbeat_interval_s < 1 or sweep.grace_period_s <= sweep.heartbeat_interval_s:
        raise ConfigError(f"{where}: sweep needs trials >= 1, timeout_s >= 0 and grace_period_s > heartbeat_interval_s >= 1.")
    fixed = data.get("fixed") or {}
    check_fixed(fixed, f"{where}: fixed")
    space = data.get("space") or {}
    if not isinstance(space, dict) or not space:
        raise ConfigError(f"{where}: space must map config fields to ranges, e.g. head.dropout: {{low: 0.0, high: 0.5}}.")
    params: dict[str, Param] = {}
    for key, spec in space.items():
        params[key] = parse_param(str(key), spec, params, where)
    return SweepSpec(data.get("model") or path.stem, path, sweep, fixed, tuple(params.values()))


def load_spec(model: str, sweeps_dir: str | Path | None = None) -> SweepSpec:
    """Read and validate ``<sweeps_dir>/<model>.yaml``."""
    path = Path(sweeps_dir or DEFAULT_SWEEPS_DIR) / f"{model}.yaml"
    if not path.is_file():
        have = sorted(p.stem for p in path.parent.glob("*.yaml"))
        raise ConfigError(f"No search space for model {model!r}: {path} does not exist. Spaces there: {', '.join(have) or 'none'}.")
    return parse_spec(load_yaml(path), path, model)


def suggest(trial, params: tuple[Param, ...]) -> dict[str, Any]:
    """{dotted field: value} for one trial (an optuna Trial, or FixedTrial to rebuild a finished one)."""
    values: dict[str, Any] = {}
    for p in params:
        if p.when is not None and values.get(p.when[0]) != p.when[1]:
            continue
        if p.kind == "categorical":
            value = trial.suggest_categorical(p.path, list(p.choices))
        elif p.kind == "layers":
            depth = trial.suggest_int(f"{p.path}.depth", *p.depth)
            value = [trial.suggest_int(f"{p.path}.width{i + 1}", *p.width, log=p.log) for i in range(depth)]
        elif p.kind == "int":
            value = trial.suggest_int(p.path, int(p.low), int(p.high), log=p.log, step=int(p.step or 1))
        else:
            value = trial.suggest_float(p.path, p.low, p.high, log=p.log, step=p.step)
        values[p.path] = [value] if p.wrap else value
    return values


def apply_values(cfg: Config, values: dict[str, Any]) -> Config:
    """``cfg`` with suggested {dotted field: value} set."""
    return checked_merge(cfg, nest(values), "trial parameters")
