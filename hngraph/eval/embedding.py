"""Embed your own graphs: PyG ``Data``, networkx graphs or PyG datasets."""
from __future__ import annotations

import os

import networkx as nx
import numpy as np
import torch
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from ..constraints import DEVICE, Either, Interval, OfType, validate_params
from ..data.features import apply_feature_recipe
from ..data.graphs import networkx_to_data
from ..data.tudataset import check_graphs
from ..distributed import resolve_device
from ..errors import (
    HngraphError,
    InvalidTypeError,
    InvalidValueError,
)
from ..nn.models import GraphModel, Pooled, load_model


def check_kinds(graphs) -> list:
    """``graphs`` as a list, checked to be a list (or PyG dataset) of PyG
    ``Data`` or networkx graphs."""
    if isinstance(graphs, (str, bytes, os.PathLike, nx.Graph, Data)) or \
            not hasattr(graphs, "__iter__"):
        raise InvalidTypeError(f"graphs must be a list of PyG Data or networkx "
                               f"graphs, or a PyG dataset, got "
                               f"{type(graphs).__name__} (read files with "
                               "hngraph.eval.embedding.read_graphs).")
    graphs = list(graphs)
    for i, g in enumerate(graphs):
        if not isinstance(g, (Data, nx.Graph)):
            raise InvalidTypeError(f"graph {i} is a {type(g).__name__}; give "
                                   "PyG Data objects, networkx graphs or a "
                                   "PyG dataset.")
    return graphs


def as_data_list(graphs, recipe: dict, node_attrs: list[str] | None = None
                 ) -> list[Data]:
    """``graphs`` (PyG dataset, list of ``Data`` or of networkx graphs) with
    the recipe's node features (``node_attrs``: see
    :func:`networkx_to_data`); with no recipe (``None``), ``Data`` with their
    own features ``x``."""
    out = []
    for i, g in enumerate(check_kinds(graphs)):
        if recipe is None and not (isinstance(g, Data) and g.x is not None):
            raise InvalidTypeError(
                f"graph {i} is a {type(g).__name__} without node features "
                "x, and a bare encoder has no feature recipe to build them: "
                "give PyG Data with x, or embed with a trained hngraph model.")
        if isinstance(g, nx.Graph):
            try:
                g = networkx_to_data(g, recipe, node_attrs=node_attrs)
            except HngraphError as err:
                raise InvalidValueError(f"graph {i}: {err}") from err
        out.append(g)
    check_graphs(out)
    if recipe is None:
        return out
    featured = []
    for i, g in enumerate(out):
        try:
            featured.append(apply_feature_recipe(g, recipe))
        except HngraphError as err:
            raise InvalidValueError(f"graph {i}: {err}") from err
    return featured


#: The parameters of :func:`embed` (beside ``model``, ``graphs`` and
#: ``node_attrs``, which it checks as it reads them).
EMBED_PARAMS = {"batch_size": Interval(int, 1, 2 ** 31),
                "device": Either(DEVICE, OfType(torch.device, "a torch.device"))}


@validate_params(EMBED_PARAMS)
def embed(model, graphs, *, batch_size: int = 256,
          device: str | torch.device = "cpu",
          node_attrs: list[str] | None = None) -> np.ndarray:
    """Graph embeddings of your own graphs.

    Args:
        model: a trained hngraph model, the path of a model file written by
            ``model.save`` / ``hngraph train``, or a bare encoder (any
            module of :mod:`hngraph.nn.models`' encoder form; the graphs then
            bring their own features ``x``).
        graphs: a PyG dataset, a list of PyG ``Data`` or a list of networkx
            graphs. Node features follow the model's feature recipe (node
            attributes where it was trained on node labels, else degrees).
        batch_size: graphs per forward pass.
        device: where to run the encoder.
        node_attrs: for networkx graphs and a model trained on node
            features, the node attributes that make them, in order
            (default: every attribute all nodes have, in sorted order).

    Returns:
        ``[num_graphs, L*d]`` float32 array, in the order of ``graphs``.
    """
    if not isinstance(model, (torch.nn.Module, str, os.PathLike)):
        raise InvalidTypeError(f"model must be an hngraph model, the path of "
                               f"its model file or an encoder, got "
                               f"{type(model).__name__}.")
    device = resolve_device(str(device) if isinstance(device, torch.device)
                            else device)
    if isinstance(model, (str, os.PathLike)):
        model = load_model(model, map_location=device)
    elif not isinstance(model, GraphModel):
        model = Pooled(model)
    if node_attrs is not None and (
            isinstance(node_attrs, str) or not all(
                isinstance(a, str) for a in node_attrs) or not node_attrs):
        raise InvalidTypeError(f"node_attrs must be a non-empty list of attribute "
                               f"names, got {node_attrs!r}.")
    bare = isinstance(model, Pooled)
    if model.feature_recipe is None and not bare:
        check_kinds(graphs)
        raise InvalidValueError("the model has no feature recipe (fit sets it "
                                "from an hngraph dataset); set "
                                "model.feature_recipe = dataset.feature_recipe "
                                "(the dataset it was trained on) first.")
    data = as_data_list(graphs, None if bare else model.feature_recipe,
                        node_attrs)
    if not data:
        raise InvalidValueError("no graphs to embed.")
    model = model.to(device)
    emb, _ = model.embed(DataLoader(data, batch_size=batch_size), device)
    return emb


#: The public names (the API reference lists these).
__all__ = ["embed"]
