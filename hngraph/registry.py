"""One registry per kind of component: the names the command line, config
files and grids accept, each mapped to the import path of its class. A
registry is the only list of its names (a test holds that), and adding a
component is its class plus one entry here. Classes are imported when first
asked for, so that the names (``--help``, config checks) cost no import of
torch. A name with a colon is a user's own class by import path,
``module:Class`` (see :mod:`hngraph.plugins`)."""
from __future__ import annotations

import inspect

from .errors import InvalidValueError
from .plugins import load_object


class Registry:
    """The components of one ``kind``: ``entries`` maps each name to the
    import path of its class (``module:Class``); ``renamed`` maps old names
    to their new ones; a class of the user's own must subclass ``base``
    (an import path), the protocol of the kind, or for ``base=None`` be
    callable (a function, as the dataset sources are)."""

    def __init__(self, kind: str, entries: dict[str, str], base: str | None,
                 *, renamed: dict[str, str] | None = None):
        self.kind, self.entries, self.base = kind, dict(entries), base
        self.renamed = dict(renamed or {})
        self._classes: dict = {}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.entries)

    @property
    def _a_kind(self) -> str:
        """The kind with its article, for messages: "an objective"."""
        return f"{'an' if self.kind[0] in 'aeiou' else 'a'} {self.kind}"

    def __contains__(self, name) -> bool:
        return name in self.entries

    def load(self, name: str, label: str = ""):
        """The class of ``name``: a registered name, or an import path
        ``module:Class`` of a user's own."""
        label = label or self.kind
        if name in self.entries:
            if name not in self._classes:
                self._classes[name] = load_object(self.entries[name], label)
            return self._classes[name]
        if ":" in str(name):
            return self._plugin(name, label)
        raise InvalidValueError(
            f"{label} {name!r} is not one of {', '.join(self.names)}, nor an "
            "import path module:Class of your own.")

    def _plugin(self, spec: str, label: str):
        """A user's class by import path, checked to subclass ``base``."""
        found = load_object(spec, label)
        if self.base is None:
            if not callable(found):
                raise InvalidValueError(
                    f"{label} {spec!r} names a {type(found).__name__}, not "
                    f"a function or class: {self._a_kind} of your own must "
                    "be callable (docs/extending.md).")
            return found
        base = load_object(self.base, self.kind)
        if not (inspect.isclass(found) and issubclass(found, base)):
            what = f"the class {found.__name__}" if inspect.isclass(found) \
                else f"a {type(found).__name__}"
            raise InvalidValueError(
                f"{label} {spec!r} names {what}, which does not subclass "
                f"{base.__module__}.{base.__name__}: {self._a_kind} of your "
                f"own must (docs/extending.md, \"Bring your own method\").")
        return found

    def takes(self, name: str, parameter: str) -> bool:
        """Whether the class of ``name`` takes ``parameter``."""
        return parameter in inspect.signature(self.load(name)).parameters

    def build(self, name: str, settings: dict, label: str = ""):
        """The component ``name`` built with the ``settings`` its class
        takes (as keywords). A setting it does not take must be left at
        0, its neutral value, or the error names it: dropping it would
        change the run without a word."""
        cls = self.load(name, label)
        takes = inspect.signature(cls).parameters
        dropped = {k: v for k, v in settings.items()
                   if k not in takes and v}
        if dropped:
            raise InvalidValueError(
                f"{label or self.kind} {name!r} ({cls.__name__}) takes no "
                + ", ".join(f"{k} (given {v!r})" for k, v in dropped.items())
                + f"; set {' and '.join(dropped)} to 0, or choose "
                f"{self._a_kind} that takes {'them' if len(dropped) > 1 else 'it'}.")
        return cls(**{k: v for k, v in settings.items() if k in takes})


WEIGHTINGS = Registry("negative weighting", {
    "paper": "hngraph.nn.weighting:HardNegatives",
    "hcl-code": "hngraph.nn.weighting:HCLCodeNegatives",
    "uniform": "hngraph.nn.weighting:UniformNegatives",
    "debiased": "hngraph.nn.weighting:DebiasedNegatives",
    "semi-hard": "hngraph.nn.weighting:SemiHardNegatives"},
    base="hngraph.nn.weighting:UniformNegatives",
    renamed={"reference": "hcl-code"})
"""Negative weightings (:mod:`hngraph.nn.weighting`), the ``reweight``
setting."""

OBJECTIVES = Registry("objective", {
    "jsd": "hngraph.nn.models:InfoGraph",
    "infonce": "hngraph.nn.models:GraphCL"},
    base="hngraph.nn.models:GraphModel")
"""Training objectives, each the model that trains by it
(:mod:`hngraph.nn.models`): InfoGraph's local-global estimator, or two
views; the ``objective`` setting."""

ENCODERS = Registry("encoder", {
    "gin": "hngraph.nn.encoders:GINEncoder"},
    base="torch.nn:Module")
"""Node encoders, each a module class built as ``Class(in_channels,
hidden=..., layers=...)`` (the settings it takes) that maps ``(x [N, F],
edge_index [2, E])`` to node embeddings ``[N, D]`` and names ``D`` in
``out_channels`` or ``out_dim`` (:mod:`hngraph.nn.models`); the ``encoder``
setting."""

AUGMENTATIONS = Registry("augmentation", {
    "node_drop": "hngraph.data.augment:NodeDrop",
    "edge_perturb": "hngraph.data.augment:EdgePerturb",
    "feature_mask": "hngraph.data.augment:FeatureMask",
    "subgraph": "hngraph.data.augment:RandomWalkSubgraph"},
    base="hngraph.data.augment:Augmentation")
"""GraphCL's augmentations (:mod:`hngraph.data.augment`), the ``aug1`` and
``aug2`` settings."""

SOURCES = Registry("dataset source", {
    "tu": "hngraph.data.tudataset:load_tudataset",
    "ogb": "hngraph.data.ogb_graphs:load_ogb",
    "folder": "hngraph.data.graphs:load_graph_folder"}, base=None)
"""Dataset sources, each a function ``(name, root=None, features="auto")``
that returns a :class:`~hngraph.data.tudataset.GraphDataset`: TU raw files,
OGB, and a folder of one's own graphs; the ``source`` setting."""

EXECUTORS = Registry("executor", {
    "local": "hngraph.runs.executors:LocalExecutor",
    "ray": "hngraph.runs.executors:RayExecutor",
    "slurm": "hngraph.runs.executors:SlurmExecutor"},
    base="hngraph.runs.executors:Executor")
"""The executors of ``hngraph grid run --executor``
(:mod:`hngraph.runs.executors`)."""


#: The public names (the API reference lists these).
__all__ = ["Registry", "WEIGHTINGS", "OBJECTIVES", "ENCODERS", "SOURCES",
           "AUGMENTATIONS", "EXECUTORS"]
