"""Run configuration: defaults, YAML files and strict validation."""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from .choices import (
    AUGMENTATION_NAMES,
    BATCHING_CHOICES,
    FEATURE_CHOICES,
    OBJECTIVES,
    REWEIGHT_MODES,
)


@dataclass
class TrainConfig:
    """Everything one training run depends on (the training defaults of
    ``docs/method.md``,
    hard-negative objective with ``beta=1, tau_plus=0.5``).

    ``objective`` is ``"jsd"`` (InfoGraph's local-global estimator, the
    default) or ``"infonce"`` (GraphCL-style two views; ``temperature``,
    ``aug1``, ``aug2`` and ``aug_ratio`` apply to it only).
    """

    dataset: str = "MUTAG"
    objective: str = "jsd"
    root: str | None = None
    features: str = "auto"
    hidden: int = 32
    layers: int = 3
    beta: float = 1.0
    tau_plus: float = 0.5
    reweight: str = "paper"
    prior: bool = False
    chunk_size: int | None = None
    temperature: float = 0.5
    aug1: str = "node_drop"
    aug2: str = "node_drop"
    aug_ratio: float = 0.2
    epochs: int = 200
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    device: str = "auto"
    batching: str = "auto"
    eval_epochs: list[int] = field(default_factory=list)
    folds: int = 10
    checkpoint_every: int = 0
    out: str = "results"

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not _type_ok(value, _TYPES[f.name]):
                raise TypeError(
                    f"config key {f.name!r} must be {_TYPES[f.name]}, got "
                    f"{value!r} ({type(value).__name__}).")
            if _TYPES[f.name] == "float":  # YAML reads 1 as an int
                setattr(self, f.name, float(value))
        if self.objective not in OBJECTIVES:
            raise ValueError(f"config key 'objective' must be one of "
                             f"{OBJECTIVES}, got {self.objective!r}.")
        for key in ("aug1", "aug2"):
            if getattr(self, key) not in AUGMENTATION_NAMES:
                raise ValueError(f"config key {key!r} must be one of "
                                 f"{AUGMENTATION_NAMES}, got "
                                 f"{getattr(self, key)!r}.")
        if not 0 <= self.aug_ratio < 1:
            raise ValueError("config key 'aug_ratio' must lie in [0, 1).")
        if self.temperature <= 0:
            raise ValueError(f"config key 'temperature' must be > 0, got "
                             f"{self.temperature}.")
        if not re.fullmatch(r"auto|cpu|mps|(cuda|xpu)(:\d+)?", self.device):
            raise ValueError(f"config key 'device' must be auto, cpu, cuda "
                             f"(or cuda:N), mps or xpu, got {self.device!r}.")
        if self.batching not in BATCHING_CHOICES:
            raise ValueError(f"config key 'batching' must be one of "
                             f"{BATCHING_CHOICES}, got {self.batching!r}.")
        if self.features not in FEATURE_CHOICES:
            raise ValueError(f"config key 'features' must be one of "
                             f"{FEATURE_CHOICES}, got {self.features!r}.")
        if self.reweight not in REWEIGHT_MODES:
            raise ValueError(f"config key 'reweight' must be one of "
                             f"{REWEIGHT_MODES}, got {self.reweight!r}.")
        if not 0 <= self.tau_plus < 1:
            raise ValueError(f"config key 'tau_plus' must lie in [0, 1), got "
                             f"{self.tau_plus}.")
        if self.beta < 0:
            raise ValueError(f"config key 'beta' must be >= 0, got "
                             f"{self.beta}.")
        for key in ("hidden", "layers", "folds"):
            if getattr(self, key) < 1:
                raise ValueError(f"config key {key!r} must be >= 1.")
        if self.epochs < 0:
            raise ValueError("config key 'epochs' must be >= 0 (0: the "
                             "untrained encoder).")
        if self.checkpoint_every < 0:
            raise ValueError("config key 'checkpoint_every' must be >= 0 "
                             "(0: no training checkpoints).")
        if self.chunk_size is not None and self.chunk_size < 1:
            raise ValueError("config key 'chunk_size' must be >= 1 or null.")
        if self.batch_size < 2:
            raise ValueError("config key 'batch_size' must be >= 2: each "
                             "graph is contrasted with the others of its "
                             "batch.")
        if self.lr <= 0:
            raise ValueError("config key 'lr' must be > 0.")

    @property
    def tag(self) -> str:
        """A short name of the objective: ``infograph``,
        ``debiased-<mode>``, ``hard-<mode>``, or for InfoNCE ``graphcl``,
        ``infonce-debiased``, ``infonce-hard``; ``untrained`` for 0 epochs."""
        if self.epochs == 0:
            return "untrained"
        if self.objective == "infonce":
            if self.beta == 0 and self.tau_plus == 0:
                return "graphcl"
            return "infonce-" + ("debiased" if self.beta == 0 else "hard")
        if self.beta == 0 and self.tau_plus == 0:
            return "infograph"
        if self.beta == 0:
            return f"debiased-{self.reweight}"
        return f"hard-{self.reweight}"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, values: dict, source: str = "config") -> TrainConfig:
        """Build a config; unknown keys are rejected, never ignored."""
        if not isinstance(values, dict):
            raise TypeError(f"{source} must be a mapping of keys to values, "
                            f"got {type(values).__name__}.")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise KeyError(f"{source}: unknown key(s) {unknown}. Known keys: "
                           f"{sorted(known)}.")
        return cls(**values)

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides) -> TrainConfig:
        """Load a YAML file; ``overrides`` (not ``None``) win over it."""
        values = _read_yaml(path)
        config = cls.from_dict(values, source=str(path))
        overrides = {k: v for k, v in overrides.items() if v is not None}
        return cls.from_dict({**config.to_dict(), **overrides}, str(path))

    @staticmethod
    def names_dataset(path: str | Path) -> bool:
        """Whether the YAML config file sets ``dataset``."""
        return "dataset" in _read_yaml(path)


def _read_yaml(path: str | Path) -> dict:
    """A YAML config file's mapping; errors name the file and the line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist.")
    try:
        values = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise ValueError(f"{path}{where} is not valid YAML "
                         f"({getattr(err, 'problem', None) or err}). Write "
                         "one 'key: value' per line, as in configs/.") from err
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"config file {path} cannot be read ({err}).") \
            from err
    values = {} if values is None else values
    if not isinstance(values, dict):
        raise TypeError(f"{path} must hold a mapping of keys to values, got "
                        f"{type(values).__name__}.")
    return values


_TYPES = {"dataset": "str", "objective": "str", "temperature": "float",
          "aug1": "str", "aug2": "str", "aug_ratio": "float",
          "root": "str or null", "features": "str",
          "hidden": "int", "layers": "int", "beta": "float",
          "tau_plus": "float", "reweight": "str", "prior": "bool",
          "chunk_size": "int or null",
          "epochs": "int", "batch_size": "int", "lr": "float", "seed": "int",
          "device": "str", "batching": "str", "eval_epochs": "list of int",
          "folds": "int",
          "checkpoint_every": "int", "out": "str"}


def _type_ok(value, kind: str) -> bool:
    """Whether ``value`` has the type named ``kind`` (bool is no number)."""
    if kind.endswith(" or null"):
        return value is None or _type_ok(value, kind[:-len(" or null")])
    if kind == "list of int":
        return isinstance(value, list) and all(_type_ok(v, "int")
                                               for v in value)
    if isinstance(value, bool):
        return kind == "bool"
    return isinstance(value, {"str": str, "int": int, "float": (int, float),
                              "bool": bool}[kind])
