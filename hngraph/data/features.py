"""Node features of graphs as PyG transforms: the recipes of
``docs/method.md`` (the dataset's node labels, the one-hot or standardised
degree, a constant, OGB's one-hot atom columns), chosen once for a
collection of graphs (:func:`fit_feature_recipe`), stored in their JSON form
in results and model files, and applied to any graph
(:func:`feature_transform`)."""
from __future__ import annotations

import inspect

import torch
import torch.nn.functional as F
import torch_geometric.transforms as T
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform
from torch_geometric.utils import degree

from ..constraints import FEATURES, check
from ..errors import InvalidTypeError, InvalidValueError

#: From this maximum degree on, the degree is standardised instead of
#: one-hot encoded (the HCL reference setting).
MAX_ONEHOT_DEGREE = 1000


def fit_feature_recipe(graphs: list[Data], features: str = "auto") -> dict:
    """Choose node features for a collection of graphs (``docs/method.md``).

    * ``"labels"``: keep ``data.x`` (one-hot node labels / attributes).
    * ``"degree"``: one-hot degree when the maximum degree is below
      :data:`MAX_ONEHOT_DEGREE`, otherwise the degree standardised by the
      collection's mean and std (the HCL reference setting).
    * ``"constant"``: a single feature equal to 1 (the InfoGraph setting).
    * ``"auto"``: ``"labels"`` where the graphs have features, else
      ``"degree"``.

    Returns the recipe in its JSON form (for results and checkpoints); its
    transform is :func:`feature_transform`.
    """
    check(FEATURES, features, "features")
    if isinstance(graphs, (str, bytes, Data)) or not hasattr(
            graphs, "__len__") or not len(graphs) or not all(
            isinstance(g, Data) for g in graphs):
        raise InvalidTypeError(
            "graphs must be a non-empty list of PyG Data (or a PyG "
            f"dataset), got {type(graphs).__name__}.")
    has_x = all(getattr(g, "x", None) is not None for g in graphs)
    if features == "auto":
        features = "labels" if has_x else "degree"
    if features == "labels":
        if not has_x:
            raise InvalidValueError(
                "features='labels' needs node features, but some graphs have "
                "none (data.x is None). Use features='degree' or 'constant'.")
        return {"kind": "labels", "dim": int(graphs[0].x.size(1))}
    if features == "constant":
        return {"kind": "constant", "dim": 1}
    degs = torch.cat([degree(g.edge_index[0], g.num_nodes) for g in graphs])
    max_deg = int(degs.max().item()) if degs.numel() else 0
    if max_deg < MAX_ONEHOT_DEGREE:
        return {"kind": "onehot_degree", "max_degree": max_deg,
                "dim": max_deg + 1}
    std = float(degs.std().item())
    return {"kind": "normalized_degree", "mean": float(degs.mean().item()),
            "std": std if std > 0 else 1.0, "dim": 1}


def apply_feature_recipe(data: Data, recipe: dict) -> Data:
    """A copy of ``data`` whose ``x`` follows ``recipe`` (the transform of
    :func:`feature_transform`)."""
    return feature_transform(recipe)(data.clone())


def feature_transform(recipe: dict) -> BaseTransform:
    """The PyG transform that a recipe (its JSON form, as in checkpoints and
    result files) describes: its ``kind``'s class of
    :data:`FEATURE_TRANSFORMS`, built from the other keys."""
    kind = recipe.get("kind")
    if kind not in FEATURE_TRANSFORMS:
        raise InvalidValueError(f"unknown feature recipe kind {kind!r}; known "
                                f"kinds: {sorted(FEATURE_TRANSFORMS)}.")
    cls = FEATURE_TRANSFORMS[kind]
    try:
        return cls(**{k: v for k, v in recipe.items() if k != "kind"})
    except TypeError:
        raise InvalidValueError(f"a feature recipe of kind {kind!r} takes "
                                f"{list(inspect.signature(cls).parameters)}, got "
                                f"{sorted(recipe)}.") from None


class FeatureTransform(BaseTransform):
    """A node-feature recipe as a PyG transform: ``forward`` replaces
    ``data.x`` (in place, as PyG's transforms do) and checks it is finite;
    :attr:`recipe` is its JSON form (see :func:`feature_transform`)."""

    kind: str

    def __init__(self, **params):
        # the recipe's keys, a key left out where its value is None
        self.params = {k: v for k, v in params.items() if v is not None}

    @property
    def recipe(self) -> dict:
        return {"kind": self.kind, **self.params}

    def features(self, data: Data) -> Tensor:
        raise NotImplementedError

    def forward(self, data: Data) -> Data:
        data.x = self.features(data)
        if not torch.isfinite(data.x).all():
            raise InvalidValueError(
                "node features contain NaN or inf. Clean the features (for "
                "example torch.nan_to_num(data.x)) or use features='degree'.")
        return data

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"


class NodeLabels(FeatureTransform):
    """The graph's own node features (one-hot node labels or attributes), as
    floats; ``dim`` of them per node. With a ``vocab`` (the node labels of
    a TU dataset, column ``i`` for ``vocab[i]``), a single column of integer
    labels is one-hot encoded by it."""

    kind = "labels"

    def __init__(self, dim: int, *, vocab: list[int] | None = None):
        super().__init__(dim=dim, vocab=vocab)

    def features(self, data):
        dim, vocab = self.params["dim"], self.params.get("vocab")
        if vocab and data.x is not None and data.x.dim() == 2 and \
                data.x.size(1) == 1:
            return self._one_hot(data.x[:, 0], vocab)
        if data.x is None or data.x.size(1) != dim:
            got = None if data.x is None else data.x.size(1)
            raise InvalidValueError(
                f"the recipe expects {dim} node features per node, got {got}. "
                "Give graphs with the same node labels as at training time, "
                "or train with features='degree'.")
        return data.x.float()

    @staticmethod
    def _one_hot(labels: Tensor, vocab: list[int]) -> Tensor:
        if not torch.equal(labels, labels.round()):
            raise InvalidValueError("a single node feature is read as an integer "
                                    f"node label of {vocab[0]}..{vocab[-1]}, but "
                                    "some are not integers.")
        index = labels.long() - vocab[0]
        bad = (index < 0) | (index >= len(vocab))
        if bad.any():
            raise InvalidValueError(
                f"node {int(bad.nonzero()[0])}: label {int(labels[bad][0])} "
                "was not among the labels "
                f"at training time ({vocab[0]}..{vocab[-1]}); give labels "
                "of that range, or one-hot rows of "
                f"{len(vocab)} features.")
        return torch.nn.functional.one_hot(index, len(vocab)).float()


class ConstantFeature(FeatureTransform):
    """The single feature 1 for every node (InfoGraph's setting for graphs
    without node labels): PyG's :class:`~torch_geometric.transforms.Constant`
    in place of ``x``."""

    kind = "constant"

    def __init__(self, *, dim: int = 1):
        super().__init__(dim=dim)

    def features(self, data):
        data.x = None
        return T.Constant(1.0, cat=False)(data).x


class OneHotDegree(FeatureTransform):
    """One-hot out-degree in ``dim = max_degree + 1`` bins; a degree above
    ``max_degree`` (in a graph not seen when the recipe was fitted) has no
    bin, and is an error that names the node."""

    kind = "onehot_degree"

    def __init__(self, max_degree: int, dim: int):
        super().__init__(max_degree=max_degree, dim=dim)

    def features(self, data):
        deg = degree(data.edge_index[0], data.num_nodes).long()
        high = self.params["max_degree"]
        if deg.numel() and int(deg.max()) > high:
            node = int((deg > high).nonzero()[0])
            raise InvalidValueError(
                f"node {node} has degree {int(deg[node])}, above the "
                f"{high} of the graphs the model was trained on, so the "
                "model has no feature for it. Embed graphs of degree "
                f"<= {high}, or train on graphs that reach such degrees.")
        return F.one_hot(deg, self.params["dim"]).float()


class NormalizedDegree(FeatureTransform):
    """The out-degree standardised by the fitted collection's ``mean`` and
    ``std`` (one feature; the published HCL code's setting for graphs of
    high degree)."""

    kind = "normalized_degree"

    def __init__(self, mean: float, std: float, *, dim: int = 1):
        super().__init__(mean=mean, std=std, dim=dim)

    def features(self, data):
        deg = degree(data.edge_index[0], data.num_nodes)
        return ((deg - self.params["mean"]) / self.params["std"]).view(-1, 1)


class OneHotColumns(FeatureTransform):
    """Categorical feature columns (OGB's atom features), each one-hot in
    its ``sizes`` entry of bins; values beyond a column's size fall into its
    last bin."""

    kind = "onehot_columns"

    def __init__(self, sizes: list[int], dim: int):
        super().__init__(sizes=sizes, dim=dim)

    def features(self, data):
        cols = data.x.long()
        return torch.cat([F.one_hot(cols[:, c].clamp(0, size - 1), size)
                          for c, size in enumerate(self.params["sizes"])],
                         dim=1).float()


#: The feature transforms by recipe kind (one registry).
FEATURE_TRANSFORMS = {t.kind: t for t in (NodeLabels, ConstantFeature,
                                          OneHotDegree, NormalizedDegree,
                                          OneHotColumns)}

#: The public names (the API reference lists these).
__all__ = ["FEATURE_TRANSFORMS", "NodeLabels", "ConstantFeature", "OneHotDegree", "NormalizedDegree",
           "OneHotColumns", "FeatureTransform", "feature_transform"]
