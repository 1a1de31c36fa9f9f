"""Run configuration: every setting declared once (default, accepted values,
help), YAML files and strict validation."""
from __future__ import annotations

import dataclasses
import functools
import inspect
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from .constraints import (
    AUGMENTATION,
    BATCH_ORDER,
    BATCH_SIZE,
    BATCHING,
    BETA,
    CHECKPOINT_EVERY,
    CHUNK_SIZE,
    DATASET,
    DEVICE,
    ENCODER,
    EPOCHS,
    FEATURES,
    FOLDS,
    GAMMA,
    HIDDEN,
    IMPORT_PATH,
    INIT,
    LAYERS,
    LR,
    OBJECTIVE,
    PRIOR,
    RATIO,
    REPEATS,
    REWEIGHT,
    SEED,
    SOURCE,
    TAU_PLUS,
    TEMPERATURE,
    Constraint,
    Interval,
    ListOf,
    Nullable,
    OfType,
    Pattern,
    check,
)
from .errors import (
    ConfigKeyError,
    InvalidTypeError,
    InvalidValueError,
    MissingFileError,
    NotAFileError,
    PathError,
)
from .plugins import provenance
from .registry import AUGMENTATIONS, ENCODERS, OBJECTIVES, SOURCES, WEIGHTINGS


def setting(default, constraint: Constraint, help: str, hint: str = ""):
    """A :class:`TrainConfig` field: its default, what it accepts, its
    ``--help`` text, and a ``hint`` that follows the error message."""
    meta = {"constraint": constraint, "help": help, "hint": hint}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default),
                     metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(kw_only=True)
class TrainConfig:
    """Everything one training run depends on, each setting declared once:
    its default, the values it accepts (a constraint of
    :mod:`hngraph.constraints`, shared with the functions that take the same
    parameter) and its help text. The command line's flags and the config
    files' checks come from these declarations (see :func:`check_setting`).
    The models, losses and ``fit`` declare their own defaults, which a test
    holds equal to these; no library module reads this class.

    ``objective`` is ``"jsd"`` (InfoGraph's local-global estimator, the
    default) or ``"infonce"`` (GraphCL-style two views; ``temperature``,
    ``aug1``, ``aug2`` and ``aug_ratio`` apply to it only).
    """

    dataset: str = setting(
        "MUTAG", DATASET,
        "TU dataset name, e.g. MUTAG; needed unless the --config file names "
        "one")
    source: str = setting(
        "tu", SOURCE, "where the graphs come from: tu = TU raw files "
        "(ROOT/NAME/raw/); ogb = an OGB dataset; folder = your own graphs, "
        "ROOT/NAME/ (graph files and labels.txt) or ROOT/NAME.pkl; or a "
        "function of your own, module:function")
    objective: str = setting(
        "jsd", OBJECTIVE, "jsd: InfoGraph local-global; infonce: "
        "GraphCL-style two views; or a model of your own, module:Class (a "
        "subclass of hngraph.nn.GraphModel)")
    encoder: str = setting(
        "gin", ENCODER, "node encoder: gin = the GIN of hidden x layers; or "
        "a module class of your own, module:Class, built as Class(in_channels, "
        "hidden=..., layers=...) with the settings it takes")
    root: str | None = setting(
        None, Nullable(OfType(str)), "folder holding NAME/raw/; null: "
        "$HNGRAPH_DATA, else download")
    features: str = setting(
        "auto", FEATURES, "node features: labels = the "
        "dataset's node labels; degree = one-hot degree (standardised degree "
        "from degree 1000); constant = 1 for every node (InfoGraph's "
        "setting); auto = labels where the dataset has them, else degree")
    hidden: int = setting(32, HIDDEN, "GIN width")
    layers: int = setting(3, LAYERS, "GIN layers")
    init: str = setting(
        "xavier", INIT, "weight initialisation: xavier = "
        "Xavier-uniform weights and zero biases (the InfoGraph and GraphCL "
        "codes); default = each layer's own (PyTorch's and PyG's)")
    beta: float = setting(
        1.0, BETA, "hardness; 0 = uniform negatives",
        "beta=0 weights all negatives equally; larger values favour harder "
        "negatives.")
    tau_plus: float | None = setting(
        None, Nullable(TAU_PLUS), "false-negative prior; 0 = no debiasing; "
        "null = the objective's default, 0.5 for jsd and 0.1 for infonce",
        "It is the prior probability that a negative from the batch shares "
        "the anchor's class; use 0 for no debiasing.")
    reweight: str = setting(
        "paper", REWEIGHT,
        "negative weighting: paper = hard negatives as Robinson et al. "
        "derive them; hcl-code = the formula of their published graph code; "
        "the others take no beta (docs/method.md); or a class of your own, "
        "module:Class")
    prior: bool = setting(False, PRIOR, "add InfoGraph's prior "
                          "matching term")
    gamma: float = setting(0.1, GAMMA, "weight of the prior "
                           "matching term")
    chunk_size: int | None = setting(
        None, CHUNK_SIZE, "compute the loss this many nodes "
        "at a time (less memory for large batches, same result); null: all "
        "at once")
    temperature: float = setting(
        0.5, TEMPERATURE, "InfoNCE temperature",
        "0.5 (GraphCL) or 0.2 are common choices.")
    aug1: str = setting("node_drop", AUGMENTATION,
                        "first view's augmentation")
    aug2: str = setting("node_drop", AUGMENTATION,
                        "second view's augmentation")
    aug_ratio: float = setting(0.2, RATIO,
                               "augmentation ratio")
    epochs: int = setting(200, EPOCHS, "epochs (0: the untrained "
                          "encoder)")
    batch_size: int = setting(
        128, BATCH_SIZE, "graphs per mini-batch", "Each graph is "
        "contrasted with the others of its batch.")
    batch_order: str = setting(
        "shuffle", BATCH_ORDER, "shuffle: a new batch order every "
        "epoch; fixed: one shuffle per run, then the same batches every "
        "epoch (the published HCL graph code)")
    lr: float = setting(1e-3, LR,
                        "Adam learning rate")
    seed: int = setting(0, SEED, "seed of the "
                        "weights, the batch order and the folds")
    device: str = setting("auto", DEVICE, "auto, cpu or cuda")
    batching: str = setting(
        "auto", BATCHING, "device: build mini-batches on the "
        "training device; loader: PyG's DataLoader (datasets larger than "
        "device memory); auto: device")
    eval_epochs: list[int] = setting(
        [], ListOf(Interval(int, 1)), "also report the SVM accuracy after "
        "these epochs")
    folds: int = setting(10, FOLDS, "outer CV folds")
    repeats: int = setting(
        1, REPEATS, "outer cross-validation splits (repeated "
        "stratified K-fold); the score is their mean, the first split alone "
        "is also recorded", "1 is a single 10-fold cross-validation, as in "
        "published tables; more splits average out the split's noise.")
    checkpoint_every: int = setting(
        0, CHECKPOINT_EVERY, "write a training checkpoint every K epochs (0: "
        "never); a rerun of the same command resumes from it")
    out: str = setting("results", Pattern(r"\S.*", "a folder path",
                                          ""), "output folder for the JSON "
                       "result and the model (~ is the home folder)")

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Check every setting (see :func:`check_setting`), and that no
        setting of the other objective is changed from its default (it
        would be ignored); ``~`` in ``out`` and ``root`` is the home
        folder."""
        for f in fields(self):
            setattr(self, f.name, check_setting(
                f.name, getattr(self, f.name), label=f"config key {f.name!r}"))
        for name, registry in _REGISTRY_OF.items():  # a plugin must load
            if IMPORT_PATH.accepts(getattr(self, name)):
                registry.load(getattr(self, name), f"config key {name!r}")
        if self.tau_plus is None:
            self.tau_plus = objective_tau_plus(self.objective)
        shape = inspect.signature(ENCODERS.load(self.encoder)).parameters
        for name in ("hidden", "layers"):
            if name not in shape and getattr(self, name) != \
                    _FIELDS[name].default:
                raise InvalidValueError(
                    f"config key {name!r} shapes the encoder, but encoder "
                    f"{self.encoder!r} takes no {name}; leave {name} out, or "
                    "give the encoder a parameter of that name.")
        if self.epochs:  # a weighting must take the settings given
            WEIGHTINGS.build(self.reweight, {"beta": self.beta,
                                             "tau_plus": self.tau_plus},
                             "config key 'reweight':")
        for name, takes in _other_objectives_settings(self.objective):
            if getattr(self, name) not in (_FIELDS[name].default,
                                           _resolved(name, self.objective)):
                raise InvalidValueError(
                    f"config key {name!r} applies to objective "
                    f"{' or '.join(map(repr, takes))} only, but objective is "
                    f"{self.objective!r}; leave {name} out, or set "
                    f"objective: {takes[0]}.")
        check_eval_epochs(self.eval_epochs, self.epochs,
                          "config key 'eval_epochs'")
        if self.root is not None:
            self.root = str(user_path(self.root, "config key 'root'",
                                      kind="folder"))
        self.out = str(output_folder(self.out, "config key 'out'"))

    @property
    def tag(self) -> str:
        """A short name of the objective: ``infograph``,
        ``debiased-<mode>``, ``hard-<mode>``, or for InfoNCE ``graphcl``,
        ``infonce-debiased``, ``infonce-hard``; ``untrained`` for 0 epochs.
        A weighting that takes no ``beta`` is named by itself
        (``semi-hard``, ``infonce-semi-hard``), and one of the user's own
        by its class name in lower case, as is a model of the user's own
        (the ``objective``)."""
        if self.epochs == 0:
            return "untrained"
        if IMPORT_PATH.accepts(self.objective):  # a model of one's own
            return self.objective.rpartition(":")[2].lower()
        # a class of one's own is named by its class name, in lower case
        weighting = self.reweight.rpartition(":")[2].lower()
        if not WEIGHTINGS.takes(self.reweight, "beta"):
            return ("infonce-" if self.objective == "infonce" else "") + \
                weighting
        if self.objective == "infonce":
            if self.beta == 0 and self.tau_plus == 0:
                return "graphcl"
            return "infonce-" + ("debiased" if self.beta == 0 else "hard")
        if self.beta == 0 and self.tau_plus == 0:
            return "infograph"
        if self.beta == 0:
            return f"debiased-{weighting}"
        return f"hard-{weighting}"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def plugins(self) -> dict:
        """The settings that name a class of the user's own by import path,
        each with :func:`hngraph.plugins.provenance` (its file and the
        file's hash)."""
        return {k: provenance(getattr(self, k), f"config key {k!r}")
                for k in _REGISTRY_OF if IMPORT_PATH.accepts(getattr(self, k))}

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, values: dict, source: str = "config") -> TrainConfig:
        """Build a config; unknown keys are rejected, never ignored."""
        if not isinstance(values, dict):
            raise InvalidTypeError(f"{source} must be a mapping of keys to values, "
                                   f"got {type(values).__name__}.")
        unknown_keys(values, {f.name for f in fields(cls)}, source)
        return cls(**values)

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides) -> TrainConfig:
        """Load a YAML file; ``overrides`` (not ``None``) win over it. The
        file and the overrides are checked together, as one config: a key
        that applies only with another setting (``temperature`` with
        ``objective: infonce``) may come from the file while the setting
        comes from an override."""
        overrides = {k: v for k, v in overrides.items() if v is not None}
        return cls.from_dict({**read_yaml(path), **overrides}, str(path))

    @staticmethod
    def names_dataset(path: str | Path) -> bool:
        """Whether the YAML config file sets ``dataset``."""
        return "dataset" in read_yaml(path)


def unknown_keys(values: dict, known: set, where: str) -> None:
    """Refuse the keys of ``values`` outside ``known`` (:class:`ConfigKeyError`
    at ``where``), each with the nearest known key when one is close, and
    the keys this place accepts."""
    import difflib

    unknown = sorted(set(values) - known)
    if not unknown:
        return
    hints = [f"{key!r} (did you mean {close[0]!r}?)" if (
        close := difflib.get_close_matches(key, sorted(known), n=1))
        else repr(key) for key in unknown]
    raise ConfigKeyError(f"{where}: unknown key(s) {', '.join(hints)}. It "
                         f"takes: {', '.join(sorted(known))}.")


def settings_diff(there: dict, now: dict, *, skip=()) -> list[str]:
    """The settings that differ between two records, each as "key: X
    there, Y now", in key order; the keys of ``skip`` are left out."""
    return [f"{k}: {there.get(k)!r} there, {now.get(k)!r} now"
            for k in sorted(set(there) | set(now))
            if k not in skip and there.get(k) != now.get(k)]


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (which
    would otherwise keep the last value silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # <<: *anchor
                continue  # merged keys may be overridden, as YAML says
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice; keep one",
                    key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def check_eval_epochs(eval_epochs, epochs: int, label: str) -> set[int]:
    """The epochs after which to evaluate, as a set; every one must be a
    training epoch (1 to ``epochs``), or it would silently never run."""
    wanted = {int(e) for e in eval_epochs}
    late = sorted(e for e in wanted if not 1 <= e <= epochs)
    if late:
        raise InvalidValueError(f"{label} lists {late}, outside the epochs 1 to "
                                f"{epochs}, so they would never run; give epochs "
                                "that training reaches.")
    return wanted


def user_path(path: str | os.PathLike, what: str,
              *, kind: str | None = None) -> Path:
    """A path argument as its user means it, the one reading of every path
    hngraph is given (arguments, flags, config keys): ``~`` is the home
    folder; an empty string (which ``Path`` would read as the current
    folder) is an error, and so is a character that does not print (a NUL
    cannot be in a path, a line break would split its messages); and when
    ``kind`` is ``"file"`` or ``"folder"``, an existing path of the other
    kind is one too. Errors name the argument (``what``)."""
    try:
        text = os.fspath(path)
    except TypeError:
        raise InvalidTypeError(f"{what} must be a path (str or "
                               f"os.PathLike), got {type(path).__name__}."
                               ) from None
    if not str(text).strip():
        raise InvalidValueError(f"{what} is an empty path; give a "
                                f"{kind or 'file'} path.")
    if not str(text).isprintable():
        raise InvalidValueError(f"{what} {str(text)!r} holds a character "
                                "that does not print (a NUL, a line break, "
                                "a tab, ...); give the path without it.")
    try:
        path = Path(text).expanduser()
    except RuntimeError:  # ~name of a user without a home folder
        raise InvalidValueError(f"{what} {str(text)!r} starts with ~ and a "
                                "user name that has no home folder here; "
                                "give the folder itself.") from None
    try:
        folder, exists = path.is_dir(), path.exists()
    except OSError as err:  # a name too long for the file system, say
        raise PathError(f"{what} {path} cannot be used ({err.strerror}); "
                        "give another path.") from err
    if kind == "file" and folder:
        raise NotAFileError(f"{what} {path} is a folder; give a file (a "
                            "path in it, to write one).")
    if kind == "folder" and exists and not folder:
        raise InvalidValueError(f"{what} {path} is a file; give a folder.")
    return path


def output_folder(path: str | os.PathLike, what: str) -> Path:
    """A folder that a command writes into (:func:`user_path`), which must
    not be ``-`` (no output goes to standard output) nor lie inside the
    shared raw data of ``$HNGRAPH_DATA``: results never go among the raw
    files. Errors name the argument (``what``)."""
    folder = user_path(path, what, kind="folder")
    if str(path).strip() == "-":
        raise InvalidValueError(
            f"{what} is '-', but hngraph writes its results as files, never "
            "to standard output; give a folder (for example results).")
    data = os.environ.get("HNGRAPH_DATA")
    if data and folder.resolve().is_relative_to(
            Path(data).expanduser().resolve()):
        raise InvalidValueError(
            f"{what} {folder} is inside $HNGRAPH_DATA ({data}), where the "
            "raw data files live; give a folder outside it, so that no "
            "output lands among the data.")
    return folder


def read_yaml(path: str | Path) -> dict:
    """A YAML config file's mapping (a key given twice is an error); errors
    name the file and the line."""
    path = user_path(path, "the config file")
    if not path.is_file():
        raise MissingFileError(f"config file {path} does not exist"
                               + (" (it is a folder)" if path.is_dir()
                                   else "") + ".")
    try:
        values = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise InvalidValueError(f"{path}{where} is not valid YAML "
                                f"({getattr(err, 'problem', None) or err}). Write "
                                "one 'key: value' per line, as in configs/.") from err
    except OSError as err:
        raise PathError(f"config file {path} cannot be read "
                        f"({err.strerror}); check its permissions.") from err
    except UnicodeDecodeError as err:
        raise InvalidValueError(f"config file {path} is not UTF-8 text "
                                f"({err.reason} at byte {err.start}); save "
                                "it as UTF-8.") from err
    values = {} if values is None else values
    if not isinstance(values, dict):
        raise InvalidTypeError(f"{path} must hold a mapping of keys to values, got "
                               f"{type(values).__name__}.")
    return values


_FIELDS = {f.name: f for f in fields(TrainConfig)}


def check_setting(name: str, value, *, label: str | None = None):
    """``value`` checked against the declaration of setting ``name`` in
    :class:`TrainConfig` (see :func:`check_field`)."""
    return check_field(_FIELDS[name], value, label)


def check_field(f: dataclasses.Field, value, label: str | None = None):
    """``value`` checked against the declaration of the field ``f`` (made
    by :func:`setting`) with :func:`~hngraph.constraints.check`, its hint
    after the message; ``label`` names the setting as the user wrote it
    (default: its name). A number that YAML read as text (``1e-3``, which
    needs a dot to be a float in YAML) is named as such."""
    constraint, hint = f.metadata["constraint"], f.metadata["hint"]
    if isinstance(value, str) and not constraint.accepts(value):
        try:
            float(value)
        except ValueError:
            pass
        else:
            hint = (f"YAML reads {value} as text, not a number (a float "
                    "needs a dot there: 1.0e-3); write it as 1.0e-3 or "
                    "0.001. " + hint).strip()
    return check(constraint, value, label or f.name, hint)


def declared(cls) -> list[dataclasses.Field]:
    """The fields of the dataclass (or instance) ``cls`` declared with
    :func:`setting`."""
    return [f for f in dataclasses.fields(cls) if "constraint" in f.metadata]


def check_declared(obj, where: str) -> None:
    """Check every :func:`declared` field of the dataclass instance ``obj``
    with :func:`check_field`, and store it as it returns; each message names
    the field as ``where`` followed by its name."""
    for f in declared(obj):
        setattr(obj, f.name, check_field(f, getattr(obj, f.name),
                                         f"{where}{f.name}"))


#: The settings that name a component, each with its registry: a name of
#: it, or a class of the user's own by import path.
_REGISTRY_OF = {"source": SOURCES, "objective": OBJECTIVES,
                "encoder": ENCODERS, "reweight": WEIGHTINGS,
                "aug1": AUGMENTATIONS, "aug2": AUGMENTATIONS}


@functools.cache
def objective_parameters(objective: str) -> dict:
    """The parameters of the model that trains by ``objective`` (its
    class in :data:`hngraph.registry.OBJECTIVES`), by name: where an
    objective's own defaults (tau+) are read."""
    return dict(inspect.signature(OBJECTIVES.load(objective)).parameters)


def objective_tau_plus(objective: str) -> float:
    """The tau+ that ``tau_plus: null`` stands for: the default of
    ``objective``'s model, or 0 (no debiasing) where it takes none."""
    own = objective_parameters(objective).get("tau_plus")
    return 0.0 if own is None or own.default is own.empty else own.default


def _resolved(name: str, objective: str):
    """What a setting's default stands for under ``objective`` (tau+'s
    null, :func:`objective_tau_plus`), or its default itself."""
    return objective_tau_plus(objective) if name == "tau_plus" \
        else _FIELDS[name].default


def _other_objectives_settings(objective: str) -> list[tuple[str, list]]:
    """The settings that ``objective``'s model does not take but another
    objective's does, each with the objectives that take it."""
    own = objective_parameters(objective)
    other = {}
    for name in OBJECTIVES.names:
        for key in objective_parameters(name):
            if key in _FIELDS and key not in own:
                other.setdefault(key, []).append(name)
    return sorted(other.items())


#: The public names (the API reference lists these).
__all__ = ["TrainConfig", "check_setting", "setting", "read_yaml",
           "user_path", "output_folder", "check_eval_epochs", "settings_diff"]
