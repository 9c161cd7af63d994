"""One typed config tree (pydantic). YAML files and dotted ``--set`` overrides are validated here, and only here.

Sections: ``data`` (which records), ``train_on``, ``word_prior_records`` (known words), ``embedders`` (one
sub-section per embedder, declared by its adapter: see ``lightning_eq.embeddings.registry``), ``head`` (the dense network and its training), ``ensemble``
(which embeddings the ensemble models read), ``baseline`` (knn and ridge), ``trainer`` (hardware, seed) and
``sweep`` (the objective and how a study runs). An unknown key or a wrong type anywhere is a ConfigError that
names the setting.

Every default here is fixed a priori (the study's settings, or a reason stated beside it) or chosen inside the
objective from training words only (epochs, alpha, k, the word prior); none was chosen by looking at test words.
The sweeps search what moves the result, with the defaults as trial 0.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator

from lightning_eq.embeddings.registry import EMBEDDERS
from lightning_eq.errors import ConfigError

# The ensembles' default embeddings: the study's four, fixed a priori (not "every registered embedder", so that
# registering one changes no default configuration). Their spaces choose among all registered embedders (``any``).
STUDY_EMBEDDERS: tuple[str, ...] = ("glove", "tok2vec", "gpt", "bert")
# Settings whose values are embedder keys: a search space may give them ``any`` (every key of EMBEDDERS).
EMBEDDER_KEY_SETTINGS: tuple[str, ...] = ("ensemble.embedders", "baseline.embedder")
LANGUAGES: tuple[str, ...] = ("English", "Español", "all")


class Section(BaseModel):
    """A config section: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


class DataConfig(Section):
    path: str = ""  # empty: the project's data/socialeq/ files for ``language``
    language: str = "English"  # English | Español | all (English plus Spanish records)
    # Weight of one Spanish record in a fit next to English ones (multilingual training; 1 = pooled as equals).
    spanish_weight: float = Field(1.0, gt=0.0, le=10.0)

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        aliases = {"english": "English", "en": "English", "español": "Español", "espanol": "Español",
                   "spanish": "Español", "es": "Español", "all": "all"}
        if value.strip().lower() not in aliases:
            raise ValueError(f"language {value!r} is not one of {', '.join(LANGUAGES)}")
        return aliases[value.strip().lower()]


def _embedders_section() -> type[Section]:
    """The ``embedders`` section: one sub-section per registered embedder (its adapter's settings) + the cache."""
    fields: dict[str, Any] = {"cache_dir": (str, "~/.cache/lightning-eq")}
    for key, entry in EMBEDDERS.items():
        fields[key] = (entry.settings, Field(default_factory=entry.settings))
    return create_model("EmbedderConfig", __base__=Section, **fields)


EmbedderConfig = _embedders_section()


class HeadConfig(Section):
    """The study's dense head: ReLU, dropout, 40 sigmoid outputs on the unit scale, MAE loss, SGD, stepped decay.

    Each default is trial 0 of every neural study and was fixed without looking at a test word: the study's
    setting where it states one, otherwise the reason in the comment. The sweeps search what they list."""

    # A priori: two dense layers, set before any result (searched: 1-3 layers of 32-512).
    hidden_sizes: list[int] = Field(default_factory=lambda: [256, 128], min_length=1)
    # A priori: the rate the project started with, set before any score was seen. (0.5 replaced it after it won
    # on the next outer fold's test words: a choice that read test words.) Searched 0-0.7.
    dropout: float = Field(0.2, ge=0.0, lt=1.0)
    optimizer: Literal["sgd", "adam"] = "sgd"  # the study's SGD, or AdamW
    lr: float = Field(0.1, gt=0.0)
    momentum: float = Field(0.9, ge=0.0, lt=1.0)
    weight_decay: float = Field(0.0, ge=0.0)
    scheduler: Literal["step", "cosine", "none"] = "step"  # step: the study's stepped decay
    lr_step_updates: int = Field(10000, ge=1)  # the study decays every 10,000 updates
    lr_gamma: float = Field(0.5, gt=0.0, le=1.0)
    batch_size: int = Field(32, ge=1)  # a priori: a common mini-batch; searched (16, 32, 64)
    # Upper bound; the objective's inner folds choose how many epochs the refit trains (the best mean epoch).
    max_epochs: int = Field(60, ge=1)
    patience: int = Field(10, ge=1)  # the objective stops once the mean validation MAE has not improved for this long
    attention_dim: int = Field(64, ge=1)  # attention: width of each embedding's projection (searched 32-128)
    input_dropout: float = Field(0.0, ge=0.0, lt=1.0)  # a priori: none, as in the study
    # Standardise each input feature with the training mean and std. A priori: inputs centred and scaled for SGD
    # (LeCun, Bottou, Orr & Müller, "Efficient BackProp", 1998), not an ablation's winner.
    standardize: bool = True

    @field_validator("hidden_sizes")
    @classmethod
    def _widths(cls, value: list[int]) -> list[int]:
        if any(w < 1 for w in value):
            raise ValueError(f"every width must be positive, got {value}")
        return value


class EnsembleConfig(Section):
    """Which embeddings ``ensemble`` (side by side) and ``attention`` (attention-weighted) read."""

    embedders: list[str] = Field(default_factory=lambda: list(STUDY_EMBEDDERS), min_length=2)

    @field_validator("embedders")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [k for k in value if k not in EMBEDDERS]
        if unknown or len(set(value)) != len(value):
            raise ValueError(f"embedders must be distinct keys of {', '.join(EMBEDDERS)}, got {value}")
        return value


class BaselineConfig(Section):
    """knn and ridge. Several candidates: the objective's inner folds choose one (the refit uses it)."""

    embedder: str = "gpt"
    knn_k: list[int] = Field(default_factory=lambda: [3, 5, 10, 20, 40], min_length=1)
    ridge_alpha: list[float] = Field(default_factory=lambda: [10.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0], min_length=1)

    @field_validator("embedder")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in EMBEDDERS:
            raise ValueError(f"embedder {value!r} is not one of {', '.join(EMBEDDERS)}")
        return value

    @field_validator("knn_k", "ridge_alpha")
    @classmethod
    def _positive(cls, value: list) -> list:
        if any(v <= 0 for v in value):
            raise ValueError(f"candidates must be positive, got {value}")
        return value


class TrainerConfig(Section):
    accelerator: Literal["auto", "cpu", "gpu", "cuda", "mps"] = "auto"
    devices: str = "auto"
    seed: int = 0
    num_threads: int = Field(1, ge=0)  # torch CPU threads; these nets are tiny (0 = torch's default)


class SweepConfig(Section):
    """The objective (inner word-disjoint folds) and how a study runs: budget, sampler, pruner, fault handling."""

    inner_folds: int = Field(4, ge=2, le=10)  # word-disjoint folds inside a study's training words
    seeds: int = Field(1, ge=1, le=5)  # training seeds per inner fold (members of one batched trial)
    trials: int = Field(8, ge=1)  # finished (complete or pruned) trials per study, over all workers
    timeout_s: float = Field(0.0, ge=0.0)  # stop starting trials after this long (per worker); 0 = no limit
    n_startup_trials: int = Field(4, ge=0)  # random trials before TPE models the space
    pruner: Literal["median", "hyperband", "none"] = "median"
    warmup_epochs: int = Field(8, ge=0)  # epochs a trial always runs before it may be pruned
    heartbeat_interval_s: int = Field(5, ge=1)
    grace_period_s: int = Field(20, ge=2)  # no heartbeat for this long: the trial is failed and retried
    max_retry: int = Field(2, ge=0)  # times a trial whose worker died is retried

    @model_validator(mode="after")
    def _grace(self) -> "SweepConfig":
        if self.grace_period_s <= self.heartbeat_interval_s:
            raise ValueError("grace_period_s must be longer than heartbeat_interval_s")
        return self


class TuneSettings(Section):
    """The tuner (``lightning_eq.tune``): how it reads a listener's ratings. Defaults fixed a priori; the tuner's
    study (``sweeps/tuner.yaml``, run by ``lightning-eq run``) chooses the settings stored in models/tuner.json."""

    basis_size: int = Field(10, ge=1, le=39)  # the crude search uses 10 principal components (99% of the spread)
    prior_strength: float = Field(1.0, gt=0.0, le=100.0)  # 1: a listener varies around the text's curve as real curves vary
    exploration: float = Field(1.0, gt=0.0, le=10.0)  # 1: plain Thompson sampling; larger: bolder probes
    rating_noise: float = Field(0.15, gt=0.0, le=1.0)  # std of a rating around 0.5 + 0.5 r (the simulated listener's)
    candidates: int = Field(8, ge=1, le=64)  # Thompson draws per probe pair, the most informative kept (A-optimal); 1: plain


class Config(Section):
    data: DataConfig = Field(default_factory=DataConfig)
    # "records": fit on every record, as the study did (a priori: the study's setting); "words": on each training
    # word's mean curve. The sweeps search both. Scores are per record either way.
    train_on: Literal["records", "words"] = "records"
    # A training word's stored curve (what predict answers for a known word): m + n/(n + λ)·(ȳ − m), with ȳ the
    # mean of its n records, m the model's out-of-fold prediction for it, λ in records. Candidates: the objective
    # chooses one from the training words (``search.objective.choose_word_prior``), like ridge's alpha.
    word_prior_records: list[float] = Field(
        default_factory=lambda: [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 256.0], min_length=1)
    embedders: EmbedderConfig = Field(default_factory=EmbedderConfig)  # type: ignore[valid-type]
    head: HeadConfig = Field(default_factory=HeadConfig)
    ensemble: EnsembleConfig = Field(default_factory=EnsembleConfig)
    baseline: BaselineConfig = Field(default_factory=BaselineConfig)
    tune: TuneSettings = Field(default_factory=TuneSettings)  # read by the tuner and its study only
    trainer: TrainerConfig = Field(default_factory=TrainerConfig)
    sweep: SweepConfig = Field(default_factory=SweepConfig)

    @field_validator("word_prior_records")
    @classmethod
    def _prior(cls, value: list[float]) -> list[float]:
        if any(v < 0 for v in value):
            raise ValueError(f"candidates must be zero or more records, got {value}")
        return value


# Settings that change where or how fast a study runs, not what a trial computes: left out of the study hash.
RUNTIME_SETTINGS = ("embedders.cache_dir", "trainer.accelerator", "trainer.devices", "trainer.num_threads",
                    "sweep.trials", "sweep.timeout_s", "sweep.heartbeat_interval_s", "sweep.grace_period_s",
                    "sweep.max_retry")


def _explain(err: ValidationError, where: str) -> ConfigError:
    """One line: the first problem, with its dotted setting name."""
    first = err.errors()[0]
    path = ".".join(str(p) for p in first["loc"])
    kind, message = first["type"], first["msg"].removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return ConfigError(f"{where}: unknown setting {path!r}; check the spelling (see lightning_eq/config.py).")
    got = first.get("input")
    shown = "" if isinstance(got, dict) or "got" in message else f", got {got!r}"
    return ConfigError(f"{where}: {path}: {message}{shown}.")


def to_dict(cfg: BaseModel) -> dict:
    return cfg.model_dump(mode="json")


def from_dict(data: Any, where: str = "config") -> Config:
    """A Config from nested settings; unknown keys and wrong types are one-line ConfigErrors."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of settings, got {type(data).__name__}.")
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise _explain(err, where) from None


def nest(values: dict[str, Any]) -> dict:
    """{"head.lr": 0.1} -> {"head": {"lr": 0.1}}."""
    out: dict = {}
    for path, value in values.items():
        *sections, name = path.split(".")
        node = out
        for s in sections:
            node = node.setdefault(s, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{path!r}: {s!r} is a setting, not a section.")
        node[name] = value
    return out


def flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    """{"head": {"lr": 0.1}} -> {"head.lr": 0.1}."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        out.update(flatten(v, f"{prefix}{k}.") if isinstance(v, dict) and v else {f"{prefix}{k}": v})
    return out


def merge(cfg: Config, overrides: dict, where: str = "overrides") -> Config:
    """A copy of ``cfg`` with nested (or dotted) ``overrides`` applied and validated."""
    nested = nest(flatten(overrides)) if overrides else {}

    def deep(a: dict, b: dict) -> dict:
        return {**a, **{k: deep(a[k], v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v for k, v in b.items()}}

    return from_dict(deep(to_dict(cfg), nested), where)


def parse_sets(items: list[str]) -> dict[str, Any]:
    """["head.max_epochs=5", "embedders.gpt.layer=8"] -> {"head.max_epochs": 5, ...}; values read as YAML."""
    values: dict[str, Any] = {}
    for item in items:
        path, sep, text = item.partition("=")
        if not sep or not path.strip() or " " in path.strip():
            raise ConfigError(f"--set expects FIELD=VALUE such as head.dropout=0.2, got {item!r}.")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = text
        # No setting is a mapping: "{text}" is a prompt, not YAML's {text: null}.
        values[path.strip()] = text if isinstance(value, dict) else value
    return values


def with_sets(cfg: Config, items: list[str]) -> Config:
    """``cfg`` with ``--set FIELD=VALUE`` items applied (validated)."""
    return merge(cfg, parse_sets(items), "--set") if items else cfg


def field_exists(path: str) -> bool:
    """True when ``path`` names a setting (not a section) of Config."""
    node: Any = Config()
    for name in path.split("."):
        if not isinstance(node, BaseModel) or name not in type(node).model_fields:
            return False
        node = getattr(node, name)
    return not isinstance(node, BaseModel)


def fingerprint(cfg: Config, exclude: tuple[str, ...] = RUNTIME_SETTINGS, tune: bool = False) -> dict[str, Any]:
    """The settings that change what a trial computes, flattened and sorted (for hashes and comparisons); the
    ``tune`` section counts only with ``tune=True`` (the tuner's study: a model's trials never read it)."""
    return {k: v for k, v in sorted(flatten(to_dict(cfg)).items())
            if k not in exclude and (tune or not k.startswith("tune."))}


def short_hash(*parts: Any) -> str:
    """8 hex digits of the SHA-256 of the parts as canonical JSON."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError as err:
        raise ConfigError(f"Config file {path} does not exist.") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {str(err).splitlines()[0]}.") from err
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}.")
    return data or {}
