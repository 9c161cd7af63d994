"""Search spaces: ``sweeps/<model>.yaml`` read, validated on load and turned into Optuna suggestions.

A file has up to five sections; an unknown key, a wrong type or a bad range anywhere is a ConfigError::

    model: gpt                                   # must match the file name
    include: [shared/head.yaml]                  # spaces shared by several models (the head's, written once)
    sweep: {trials: 12}                          # Config.sweep settings for this model's studies
    fixed: {head: {max_epochs: 60}}              # Config settings of the model's default configuration
    space:                                       # dotted Config setting -> how Optuna suggests it
      head.dropout: {low: 0.0, high: 0.7}                            # float: suggest_float
      head.hidden_sizes: {depth: [1, 3], width: [32, 512], log: true}  # depth, then one width per layer
      embedders.gpt.prompt: {choices: ["The sound is {text}.", "{text}"]}   # any setting: categorical
      ensemble.embedders: {subsets: any, min: 2}  # which ones take part: any 2 or more registered embedders
      baseline.embedder: {choices: any}           # any one registered embedder
      head.lr_gamma: {low: 0.2, high: 0.9, when: {head.scheduler: step}}     # only under a choice

``any`` (for ``choices`` or ``subsets``) stands for every key of ``embeddings.registry.EMBEDDERS``, in its order,
resolved when the file loads: a newly registered embedder joins those spaces (and their studies' names) with no
edit here. Only settings that take embedder keys accept it (``config.EMBEDDER_KEY_SETTINGS``); a list of keys
names them one by one instead.

A list setting other than ``hidden_sizes`` and ``ensemble.embedders`` (``baseline.knn_k``) takes one suggested
value, stored as ``[value]``. Values are checked by the typed Config itself (``config.merge``), so a range that
the setting does not accept fails on load. The model's default configuration must lie inside its space: it
is enqueued as trial 0 of every study (``default_params``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lightning_eq.config import EMBEDDER_KEY_SETTINGS, Config, field_exists, flatten, load_yaml, merge, to_dict
from lightning_eq.embeddings.registry import EMBEDDERS
from lightning_eq.errors import ConfigError

DEFAULT_SWEEPS_DIR = Path(__file__).resolve().parents[2] / "sweeps"


def default_config(key: str, cfg: Config, sweeps_dir: str | Path | None = None, overrides: dict | None = None) -> Config:
    """Model ``key``'s default configuration: ``cfg`` with its YAML's ``fixed`` settings, then ``overrides``."""
    path = Path(sweeps_dir or DEFAULT_SWEEPS_DIR) / f"{key}.yaml"
    base = load_spec(key, sweeps_dir).base_config(cfg) if path.is_file() else cfg
    return merge(base, overrides, "--set") if overrides else base
SPEC_KEYS = {"float": {"low", "high", "log", "step", "when"}, "int": {"low", "high", "log", "step", "when"},
             "categorical": {"choices", "when"}, "layers": {"depth", "width", "log", "when"},
             "subsets": {"subsets", "min", "when"}}
SECTIONS = {"model", "include", "sweep", "fixed", "space"}


@dataclass(frozen=True)
class Param:
    """One searched setting. ``path`` is a dotted Config setting, also the Optuna parameter name."""

    path: str
    kind: str  # float | int | categorical | layers | subsets
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple = ()
    depth: tuple[int, int] = (1, 1)
    width: tuple[int, int] = (1, 1)
    when: tuple[str, Any] | None = None
    wrap: bool = False  # a list setting that takes one value

    def describe(self) -> dict:
        """A plain, canonical description (for the study hash and the MLflow parent run)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}


@dataclass
class SweepSpec:
    """A validated sweeps/<model>.yaml (with its includes)."""

    model: str
    path: Path
    sweep: dict = field(default_factory=dict)  # Config.sweep overrides
    fixed: dict = field(default_factory=dict)  # nested Config overrides
    params: tuple[Param, ...] = ()

    def base_config(self, cfg: Config) -> Config:
        """``cfg`` with this file's ``sweep`` and ``fixed`` settings applied: the model's default configuration."""
        return checked_merge(cfg, {**self.fixed, "sweep": {**self.fixed.get("sweep", {}), **self.sweep}}, f"{self.path}")

    def describe(self) -> dict:
        return {"model": self.model, "fixed": self.fixed, "space": [p.describe() for p in self.params]}


def checked_merge(cfg: Config, nested: dict, where: str) -> Config:
    """``merge`` whose error names ``where``."""
    try:
        return merge(cfg, nested, where)
    except ConfigError as err:
        if where in str(err):
            raise
        raise ConfigError(f"{where}: {err}") from err


def _check_value(path: str, value: Any, where: str) -> None:
    checked_merge(Config(), {path: value}, where)


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


def _kind(path: str, spec: dict, default: Any, where: str) -> str:
    if "choices" in spec:
        return "categorical"
    if "subsets" in spec:
        return "subsets"
    if path == "head.hidden_sizes":
        return "layers"
    item = default[0] if isinstance(default, list) and default else default
    if isinstance(item, (int, float)) and not isinstance(item, bool):
        return "int" if isinstance(item, int) and isinstance(spec.get("low"), int) and isinstance(spec.get("high"), int) else "float"
    raise ConfigError(f"{where}: a {type(item).__name__} setting needs `choices: [...]`.")


def _items(path: str, spec: dict, name: str, where: str) -> Any:
    """``spec[name]``, with ``any`` resolved to every registered embedder key (only where ``path`` takes them)."""
    value = spec[name]
    if value != "any":
        return value
    if path not in EMBEDDER_KEY_SETTINGS:
        raise ConfigError(f"{where}: `{name}: any` means every registered embedder, which only "
                          f"{', '.join(EMBEDDER_KEY_SETTINGS)} take; list the values instead.")
    return list(EMBEDDERS)


def parse_param(path: str, spec: Any, earlier: dict[str, Param], where: str) -> Param:
    """One ``space`` entry, validated against the Config setting it sets."""
    where = f"{where}: space.{path}"
    if not field_exists(path):
        raise ConfigError(f"{where}: {path!r} is not a config setting (a section's field, e.g. head.dropout); "
                          "see lightning_eq/config.py.")
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: expected a mapping such as {{low: 0.0, high: 0.5}} or {{choices: [a, b]}}, got {spec!r}.")
    default = flatten(to_dict(Config()))[path]
    is_list = isinstance(default, list)
    kind = _kind(path, spec, default, where)
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
        choices = _items(path, spec, "choices", where)
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}: choices must be a non-empty list, got {choices!r}.")
        for c in choices:
            if not isinstance(c, (str, int, float, bool)):
                raise ConfigError(f"{where}: each choice must be a single value (text, number or true/false), got {c!r}.")
            _check_value(path, [c] if is_list else c, where)
        return Param(path, kind, choices=tuple(choices), when=when, wrap=is_list)
    if kind == "subsets":
        items, least = _items(path, spec, "subsets", where), spec.get("min", 1)
        if not isinstance(items, list) or not isinstance(least, int) or not 1 <= least <= len(items):
            raise ConfigError(f"{where}: subsets must be a list of items and min a count between 1 and its length.")
        choices = tuple("+".join(c) for n in range(least, len(items) + 1) for c in itertools.combinations(items, n))
        for c in choices:
            _check_value(path, c.split("+"), where)
        return Param(path, kind, choices=choices, when=when)
    if kind == "layers":
        depth, width = _pair(spec.get("depth"), "depth", where), _pair(spec.get("width"), "width", where)
        if depth[0] < 1 or width[0] < 1:
            raise ConfigError(f"{where}: depth and width must be at least 1, got depth {list(depth)}, width {list(width)}.")
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
    for bound in (low, high):
        _check_value(path, [bound] if is_list else bound, where)
    return Param(path, kind, low=low, high=high, log=log, step=step, when=when, wrap=is_list)


def _read(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    """A YAML spec with its ``include:`` files merged in (the including file's sections win)."""
    data = load_yaml(path)
    unknown = sorted(set(data) - SECTIONS)
    if unknown:
        raise ConfigError(f"{path}: unknown section {', '.join(map(repr, unknown))}; sections: {', '.join(sorted(SECTIONS))}.")
    includes = data.get("include") or []
    if not isinstance(includes, list):
        raise ConfigError(f"{path}: include must be a list of files, e.g. [shared/head.yaml].")
    merged: dict = {"space": {}, "fixed": {}, "sweep": {}}
    for name in includes:
        inc = (path.parent / str(name)).resolve()
        if inc in seen or inc == path.resolve():
            raise ConfigError(f"{path}: include {name} makes a cycle.")
        if not inc.is_file():
            raise ConfigError(f"{path}: included file {name} does not exist (paths are relative to {path.parent}).")
        part = _read(inc, (*seen, path.resolve()))
        for section in ("space", "fixed", "sweep"):
            merged[section].update(part.get(section) or {})
    for section in ("space", "fixed", "sweep"):
        value = data.get(section) or {}
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: {section} must be a mapping, got {type(value).__name__}.")
        merged[section].update(value)
    merged["model"] = data.get("model")
    return merged


def parse_spec(data: dict, path: Path, model: str | None = None) -> SweepSpec:
    """Validate a loaded (and include-merged) spec; ``model`` (from the file name) must match its ``model:``."""
    where = str(path)
    unknown = sorted(set(data) - SECTIONS)
    if unknown:
        raise ConfigError(f"{where}: unknown section {', '.join(map(repr, unknown))}; sections: {', '.join(sorted(SECTIONS))}.")
    if model is not None and data.get("model") != model:
        raise ConfigError(f"{where}: model is {data.get('model')!r} but the file is named for {model!r}; make them agree.")
    sweep = data.get("sweep") or {}
    fixed = data.get("fixed") or {}
    if not isinstance(sweep, dict) or not isinstance(fixed, dict):
        raise ConfigError(f"{where}: sweep and fixed must be mappings of settings.")
    checked_merge(Config(), {**fixed, "sweep": sweep}, where)
    space = data.get("space") or {}
    if not isinstance(space, dict) or not space:
        raise ConfigError(f"{where}: space must map config settings to ranges, e.g. head.dropout: {{low: 0.0, high: 0.5}}.")
    params: dict[str, Param] = {}
    for key, spec in space.items():
        params[str(key)] = parse_param(str(key), spec, params, where)
    return SweepSpec(data.get("model") or path.stem, path, sweep, fixed, tuple(params.values()))


def load_spec(model: str, sweeps_dir: str | Path | None = None) -> SweepSpec:
    """Read and validate ``<sweeps_dir>/<model>.yaml`` (with its includes)."""
    path = Path(sweeps_dir or DEFAULT_SWEEPS_DIR) / f"{model}.yaml"
    if not path.is_file():
        have = sorted(p.stem for p in path.parent.glob("*.yaml"))
        raise ConfigError(f"No search space for model {model!r}: {path} does not exist. Spaces there: {', '.join(have) or 'none'}.")
    return parse_spec(_read(path), path, model)


def with_overrides(spec: SweepSpec, overrides: dict | None) -> SweepSpec:
    """``spec`` with ``--set`` settings ({dotted: value}) on top of its ``fixed``; an overridden setting leaves the
    space (with the parameters that only apply to its other values)."""
    if not overrides:
        return spec
    values = flatten(overrides)
    sweep = {k.removeprefix("sweep."): v for k, v in values.items() if k.startswith("sweep.")}
    fixed_values = {k: v for k, v in values.items() if not k.startswith("sweep.")}
    fixed = _nest({**flatten(spec.fixed), **fixed_values})
    checked_merge(Config(), {**fixed, "sweep": {**spec.sweep, **sweep}}, "--set")
    params = []
    for p in spec.params:
        if p.path in fixed_values or (p.when is not None and p.when[0] in fixed_values and fixed_values[p.when[0]] != p.when[1]):
            continue
        params.append(Param(**{**p.__dict__, "when": None}) if p.when is not None and p.when[0] in fixed_values else p)
    return SweepSpec(spec.model, spec.path, {**spec.sweep, **sweep}, fixed, tuple(params))


def _nest(values: dict) -> dict:
    from lightning_eq.config import nest

    return nest(values)


def suggest(trial, params: tuple[Param, ...], skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """{dotted setting: value} for one trial (an optuna Trial, or FixedTrial to rebuild a finished one);
    settings in ``skip`` are not suggested (they keep the config's value)."""
    values: dict[str, Any] = {}
    for p in params:
        if p.path in skip or (p.when is not None and values.get(p.when[0]) != p.when[1]):
            continue
        if p.kind in ("categorical", "subsets"):
            value = trial.suggest_categorical(p.path, list(p.choices))
            if p.kind == "subsets":
                value = value.split("+")
        elif p.kind == "layers":
            depth = trial.suggest_int(f"{p.path}.depth", *p.depth)
            value = [trial.suggest_int(f"{p.path}.width{i + 1}", *p.width, log=p.log) for i in range(depth)]
        elif p.kind == "int":
            value = trial.suggest_int(p.path, int(p.low), int(p.high), log=p.log, step=int(p.step or 1))
        else:
            value = trial.suggest_float(p.path, p.low, p.high, log=p.log, step=p.step)
        values[p.path] = [value] if p.wrap else value
    return values


def default_params(spec: SweepSpec, cfg: Config) -> tuple[dict[str, Any], tuple[str, ...]]:
    """(Optuna parameters that give ``cfg``'s own values, settings left as they are) for trial 0, the default.

    A list setting whose default holds several candidates (``baseline.ridge_alpha``: the inner folds choose one)
    cannot be one suggestion: trial 0 keeps the whole list and does not suggest it. A default outside the space
    is an error, so that trial 0 can always be the default configuration."""
    values = flatten(to_dict(cfg))
    params: dict[str, Any] = {}
    kept: list[str] = []
    chosen: dict[str, Any] = {}
    for p in spec.params:
        if p.when is not None and chosen.get(p.when[0]) != p.when[1]:
            continue
        value = values[p.path]
        if p.wrap:
            if len(value) != 1:
                kept.append(p.path)
                continue
            value = value[0]
        where = f"{spec.path}: the default {p.path} = {value!r}"
        if p.kind == "categorical":
            if value not in p.choices:
                raise ConfigError(f"{where} is not among its choices {list(p.choices)}; add it, so trial 0 can be the default.")
            params[p.path] = value
        elif p.kind == "subsets":
            joined = "+".join(value)
            if joined not in p.choices:
                raise ConfigError(f"{where} is not one of the subsets searched; list its items in that order.")
            params[p.path] = joined
        elif p.kind == "layers":
            if not (p.depth[0] <= len(value) <= p.depth[1] and all(p.width[0] <= w <= p.width[1] for w in value)):
                raise ConfigError(f"{where} is outside depth {list(p.depth)}, width {list(p.width)}.")
            params[f"{p.path}.depth"] = len(value)
            params.update({f"{p.path}.width{i + 1}": w for i, w in enumerate(value)})
        else:
            if not p.low <= value <= p.high:
                raise ConfigError(f"{where} is outside [{p.low}, {p.high}]; widen the range so trial 0 can be the default.")
            params[p.path] = value
        chosen[p.path] = value
    return params, tuple(kept)


def apply_values(cfg: Config, values: dict[str, Any]) -> Config:
    """``cfg`` with suggested {dotted setting: value} set."""
    return checked_merge(cfg, values, "trial parameters")
