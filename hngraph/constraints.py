"""Constraints on parameters, each declared beside the function or setting
that takes it, in the manner of scikit-learn's parameter validation: one
object per kind of value (:class:`Interval`, :class:`Options`, ...), the
named constraints that several functions and :class:`~hngraph.config.TrainConfig`
share (:data:`BETA`, :data:`TAU_PLUS`, ...), and :func:`validate_params`,
which binds a declaration to its function, its messages naming each
argument as its caller passed it."""
from __future__ import annotations

import math
import numbers
import re
import warnings

import numpy as np

from .errors import InvalidTypeError, InvalidValueError
from .registry import (
    AUGMENTATIONS,
    ENCODERS,
    OBJECTIVES,
    SOURCES,
    WEIGHTINGS,
)

#: Node features of TU datasets (see :func:`hngraph.data.tudataset.fit_feature_recipe`).
FEATURE_CHOICES = ("auto", "labels", "degree", "constant")
#: ``"device"``: mini-batches built on the training device by index
#: operations (:mod:`hngraph.data.batching`); ``"loader"``: PyG's ``DataLoader``,
#: for datasets larger than device memory; ``"auto"``: ``"device"``.
BATCHING_CHOICES = ("auto", "device", "loader")
#: ``"shuffle"``: a new order every epoch (PyG's ``DataLoader(shuffle=True)``);
#: ``"fixed"``: one shuffle per run, the same batches every epoch (the
#: published HCL graph code).
BATCH_ORDERS = ("shuffle", "fixed")
#: Weight initialisation (see :meth:`hngraph.nn.models.GraphModel.reset_parameters`):
#: ``"xavier"``, as the published InfoGraph and GraphCL codes; ``"default"``,
#: each layer's own (PyTorch's and PyG's defaults).
INIT_CHOICES = ("xavier", "default")


class Constraint:
    """What values a setting accepts; ``str(c)`` completes "must be ..."."""

    def accepts(self, value) -> bool:
        raise NotImplementedError

    def invalid(self):
        """A value this constraint rejects (for tests)."""
        raise NotImplementedError

    def store(self, value):
        """An accepted value as it is stored (the identity by default)."""
        return value


def _is_number(value, kind: type) -> bool:
    """Whether ``value`` is a number of ``kind``, as scikit-learn checks
    numbers: ``numbers.Integral`` for ``int``, ``numbers.Real`` for
    ``float`` (NumPy scalars included), never a bool."""
    if isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, numbers.Integral if kind is int
                      else numbers.Real)


#: Seeds lie below 2**32, as NumPy's and PyTorch's generators take them.
SEED_END = 2 ** 32


class Interval(Constraint):
    """A number of type ``kind`` (``int`` or ``float``, never a bool) with
    ``low <= value`` (``low < value`` when ``open_low``) and ``value < high``
    (``value <= high`` when ``closed_high``) when ``high`` is given; floats
    must be finite."""

    def __init__(self, kind: type, low: float, high: float | None = None, *,
                 open_low: bool = False, closed_high: bool = False):
        self.kind, self.low, self.high, self.open_low = (kind, low, high,
                                                         open_low)
        self.closed_high = closed_high

    def accepts(self, value) -> bool:
        if not _is_number(value, self.kind):
            return False
        if not math.isfinite(value):
            return False
        above = value > self.low if self.open_low else value >= self.low
        if self.high is None:
            return above
        return above and (value <= self.high if self.closed_high
                          else value < self.high)

    def store(self, value):
        """The value as a Python ``int`` or ``float`` (a NumPy scalar, as a
        grid of settings built with NumPy gives, included)."""
        return self.kind(value)

    def invalid(self):
        return self.kind(self.low - 1)

    def __str__(self) -> str:
        name = {int: "an integer", float: "a finite number"}[self.kind]
        if self.high is not None:
            high = f"{self.high:d}" if self.kind is int else f"{self.high:g}"
            return (f"{name} in [{self.low:g}, {high}"
                    f"{']' if self.closed_high else ')'}")
        return f"{name} {'>' if self.open_low else '>='} {self.low:g}"


class Options(Constraint):
    """One of ``values``; ``renamed`` maps old names to their new ones
    (accepted with a :class:`FutureWarning`)."""

    def __init__(self, values: tuple, *, renamed: dict | None = None):
        self.values, self.renamed = values, renamed or {}

    def accepts(self, value) -> bool:
        return isinstance(value, str) and (value in self.values
                                           or value in self.renamed)

    def invalid(self):
        return "no-such-choice"

    def __str__(self) -> str:
        return "one of " + ", ".join(map(repr, self.values))


class Pattern(Constraint):
    """A string matching the regular expression ``regex``, described in
    words by ``text``."""

    def __init__(self, regex: str, text: str, bad: str):
        self.regex, self.text, self.bad = regex, text, bad

    def accepts(self, value) -> bool:
        return isinstance(value, str) and re.fullmatch(self.regex, value) \
            is not None

    def invalid(self):
        return self.bad

    def __str__(self) -> str:
        return self.text


class OfType(Constraint):
    """Any value of type ``kind`` (``bool``, ``str``), described in words by
    ``text`` (by default its type's name)."""

    def __init__(self, kind: type, text: str = ""):
        self.kind, self.text = kind, text

    def accepts(self, value) -> bool:
        return isinstance(value, self.kind)

    def invalid(self):
        return 3 if self.kind is not int else "three"

    def __str__(self) -> str:
        return self.text or {bool: "true or false", str: "a string",
                             dict: "a mapping"}.get(self.kind,
                                                    f"a {self.kind.__name__}")


class Nullable(Constraint):
    """``None`` (YAML ``null``) or a value that ``inner`` accepts."""

    def __init__(self, inner: Constraint):
        self.inner = inner

    def accepts(self, value) -> bool:
        return value is None or self.inner.accepts(value)

    def store(self, value):
        return None if value is None else self.inner.store(value)

    def invalid(self):
        return self.inner.invalid()

    def __str__(self) -> str:
        return f"{self.inner} or null"


class ListOf(Constraint):
    """A list whose items ``inner`` accepts, with at least ``min_items``."""

    def __init__(self, inner: Constraint, min_items: int = 0):
        self.inner, self.min_items = inner, min_items

    def accepts(self, value) -> bool:
        return isinstance(value, list) and len(value) >= self.min_items \
            and all(map(self.inner.accepts, value))

    def store(self, value):
        return [self.inner.store(v) for v in value]

    def invalid(self):
        return [self.inner.invalid()]

    def __str__(self) -> str:
        size = "a non-empty list" if self.min_items else "a list"
        return f"{size} of items each {self.inner}"


class MappingOf(Constraint):
    """A mapping from names (strings) to values that ``inner`` accepts,
    with at least ``min_items`` entries."""

    def __init__(self, inner: Constraint, min_items: int = 0):
        self.inner, self.min_items = inner, min_items

    def accepts(self, value) -> bool:
        return isinstance(value, dict) and len(value) >= self.min_items \
            and all(isinstance(k, str) and self.inner.accepts(v)
                    for k, v in value.items())

    def invalid(self):
        return {"name": self.inner.invalid()}

    def __str__(self) -> str:
        size = "a non-empty mapping" if self.min_items else "a mapping"
        return f"{size} of names to values each {self.inner}"


class Either(Constraint):
    """A value that one of ``options`` accepts."""

    def __init__(self, *options: Constraint):
        self.options = options

    def accepts(self, value) -> bool:
        return any(o.accepts(value) for o in self.options)

    def invalid(self):
        return next(bad for bad in (o.invalid() for o in self.options)
                    if not self.accepts(bad))

    def __str__(self) -> str:
        return " or ".join(map(str, self.options))


def _right_type(value, constraint: Constraint) -> bool:
    """Whether ``value`` has the type ``constraint`` asks for (so that a
    rejection is a ``ValueError``, not a ``TypeError``)."""
    while isinstance(constraint, Nullable):
        constraint = constraint.inner
    if isinstance(constraint, Interval):
        return _is_number(value, constraint.kind)
    if isinstance(constraint, ListOf):
        return isinstance(value, list) and all(
            _right_type(v, constraint.inner) for v in value)
    if isinstance(constraint, MappingOf):
        return isinstance(value, dict)
    if isinstance(constraint, Either):
        return any(_right_type(value, o) for o in constraint.options)
    if isinstance(constraint, OfType):
        return isinstance(value, constraint.kind)
    return isinstance(value, str)


def check(constraint: Constraint, value, label: str, hint: str = ""):
    """``value`` checked against ``constraint``, and returned as stored (a
    float given an int becomes a float, a renamed choice its new name, with
    a :class:`FutureWarning`). Otherwise raises
    ``hngraph.errors.InvalidTypeError`` (a value of the wrong type) or
    ``hngraph.errors.InvalidValueError``, in one form: "<label> must
    be <constraint>, got <value>. <hint>"."""
    if not constraint.accepts(value):
        error = InvalidValueError if _right_type(value, constraint) \
            else InvalidTypeError
        raise error(f"{label} must be {constraint}, got {value!r}."
                    + (f" {hint}" if hint else ""))
    if isinstance(constraint, Either):  # stored as the option that accepts it
        return check(next(o for o in constraint.options if o.accepts(value)),
                     value, label, hint)
    if isinstance(constraint, Options) and value in constraint.renamed:
        new = constraint.renamed[value]
        warnings.warn(f"{label}: {value!r} is renamed {new!r}; the old name "
                      "will be removed in a later release.", FutureWarning,
                      stacklevel=4)
        return new
    return constraint.store(value)


def validate_params(constraints: dict[str, Constraint], *, where: str = ""):
    """A decorator that binds ``constraints`` (the declaration of a
    function's parameters, name to :class:`Constraint`) to the function's
    signature, as scikit-learn's ``validate_params`` does: every call's
    arguments, its defaults included, are checked with :func:`check` (named
    ``where`` followed by the parameter's name), and the function runs on
    the values as checked. The defaults live in the signature alone; a
    constraint that names no parameter is an error when the function is
    defined. The declaration stays readable as the wrapper's
    ``constraints``."""
    import functools
    import inspect

    def decorate(function):
        signature = inspect.signature(function)
        stray = sorted(set(constraints) - set(signature.parameters))
        if stray:
            raise TypeError(f"{function.__qualname__} has no parameter(s) "
                            f"{stray} to check.")

        @functools.wraps(function)
        def checked(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            for name, constraint in constraints.items():
                bound.arguments[name] = check(
                    constraint, bound.arguments[name], f"{where}{name}")
            return function(*bound.args, **bound.kwargs)

        checked.constraints = constraints
        return checked
    return decorate


#: The parameters several functions share, declared once (the settings of
#: :class:`~hngraph.config.TrainConfig` of the same name use them too).
#: Sizes are bounded where a larger one could only exhaust memory or time.
HIDDEN = Interval(int, 1, 2 ** 16)
WIDTH = Interval(int, 1, 2 ** 20)  # a node feature or embedding width
LAYERS = Interval(int, 1, 2 ** 10)
INIT = Options(INIT_CHOICES)
BETA = Interval(float, 0)
TAU_PLUS = Interval(float, 0, 1)
#: A class of the user's own, by import path (:mod:`hngraph.plugins`).
IMPORT_PATH = Pattern(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*",
                      "an import path module:Class of your own",
                      "module-without-class")
#: A negative weighting's name (:data:`hngraph.registry.WEIGHTINGS`).
REWEIGHT = Either(Options(WEIGHTINGS.names, renamed=WEIGHTINGS.renamed),
                  IMPORT_PATH)
PRIOR = OfType(bool)
GAMMA = Interval(float, 0)
CHUNK_SIZE = Nullable(Interval(int, 1))
TEMPERATURE = Interval(float, 1e-4)  # below, 1 / t overflows float32 scores
#: A training objective's name (:data:`hngraph.registry.OBJECTIVES`).
OBJECTIVE = Either(Options(OBJECTIVES.names), IMPORT_PATH)
#: A node encoder's name (:data:`hngraph.registry.ENCODERS`).
ENCODER = Either(Options(ENCODERS.names), IMPORT_PATH)
#: An augmentation's name (:data:`hngraph.registry.AUGMENTATIONS`).
AUGMENTATION = Either(Options(AUGMENTATIONS.names), IMPORT_PATH)
#: A dataset source's name (:data:`hngraph.registry.SOURCES`).
SOURCE = Either(Options(SOURCES.names), IMPORT_PATH)
RATIO = Interval(float, 0, 1)
QUANTILE = Interval(float, 0, 1, closed_high=True)
FEATURES = Options(FEATURE_CHOICES)
EPOCHS = Interval(int, 0, 10 ** 6)
BATCH_SIZE = Interval(int, 2)
BATCH_ORDER = Options(BATCH_ORDERS)
LR = Interval(float, 0, open_low=True)
SEED = Interval(int, 0, SEED_END)
BATCHING = Options(BATCHING_CHOICES)
FOLDS = Interval(int, 2, 10 ** 6)
REPEATS = Interval(int, 1, 1000)
CHECKPOINT_EVERY = Interval(int, 0)
#: A dataset's name: a folder name that stays inside its parent folder.
DATASET = Pattern(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", "a TU dataset name such "
                  "as MUTAG (letters, digits and _.-, starting with a letter "
                  "or digit)", "../MUTAG")
DEVICE = Pattern(r"auto|cpu|mps|(cuda|xpu)(:\d+)?",
                 "auto, cpu, cuda (or cuda:N), mps or xpu", "gpu")


#: The public names (the API reference lists these).
__all__ = ["Constraint", "Interval", "Options", "Pattern", "OfType",
           "Nullable", "ListOf", "MappingOf", "Either", "check",
           "validate_params", "SEED_END", "HIDDEN", "WIDTH", "LAYERS", "INIT", "BETA",
           "TAU_PLUS", "REWEIGHT", "PRIOR", "GAMMA", "CHUNK_SIZE",
           "TEMPERATURE", "AUGMENTATION", "RATIO", "QUANTILE", "IMPORT_PATH",
           "SOURCE", "ENCODER", "FEATURES", "EPOCHS",
           "BATCH_SIZE", "BATCH_ORDER", "LR", "SEED", "BATCHING", "FOLDS",
           "REPEATS", "CHECKPOINT_EVERY", "DATASET", "DEVICE", "FEATURE_CHOICES",
           "BATCHING_CHOICES", "OBJECTIVE",
           "BATCH_ORDERS", "INIT_CHOICES"]
