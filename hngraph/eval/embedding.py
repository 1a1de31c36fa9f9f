"""Embed your own graphs: PyG ``Data``, networkx graphs or PyG datasets."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import networkx as nx
import numpy as np
import torch
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader
from torch_geometric.utils import from_networkx

from ..config import user_path
from ..constraints import DEVICE, Interval, check
from ..data.features import apply_feature_recipe
from ..data.tudataset import check_graphs
from ..distributed import resolve_device
from ..errors import (
    HngraphError,
    InvalidTypeError,
    InvalidValueError,
    MissingFileError,
    PathError,
)
from ..nn.models import GraphModel, Pooled, load_model

#: Readers for the files of an input folder, by suffix.
READERS = {".graphml": nx.read_graphml, ".gml": nx.read_gml,
           ".edgelist": nx.read_edgelist, ".adjlist": nx.read_adjlist}


def networkx_to_data(graph: nx.Graph, recipe: dict,
                     node_attrs: list[str] | None = None) -> Data:
    """A networkx graph as PyG ``Data`` through ``from_networkx``.

    With a ``labels`` recipe, the node attributes ``node_attrs`` (default:
    all those every node has, in sorted key order) become ``x``, in that
    order; otherwise only the structure is kept and the recipe's degree or
    constant features are computed from it. Directed graphs are made
    undirected, as the encoder expects.
    """
    if recipe["kind"] == "labels":
        common = set.intersection(*[set(d) for _, d in
                                    graph.nodes(data=True)]) or set()
        keys = sorted(common) if node_attrs is None else list(node_attrs)
        if not keys:
            raise InvalidValueError(
                "the model was trained on node features "
                f"({recipe['dim']} per node) but this networkx graph's nodes "
                "have no common attributes. Give each node its features, "
                "for example G.nodes[v]['x'] = [..].")
        missing = [k for k in keys if k not in common]
        if missing:
            node = next(v for v, d in graph.nodes(data=True)
                        if missing[0] not in d)
            raise InvalidValueError(f"node {node!r} has no attribute "
                                    f"{missing[0]!r} of node_attrs {keys}; give "
                                    "every node each of them, or leave it out of "
                                    "node_attrs.")
        try:
            data = from_networkx(nx.Graph(graph), group_node_attrs=keys)
            data.x = data.x.float()
        except (ValueError, TypeError, RuntimeError, AttributeError) as err:
            raise InvalidValueError(
                f"the node attributes {keys} cannot be made into features "
                f"({type(err).__name__}): every node needs numbers, or lists "
                "of numbers of one length, under the same keys.") from err
    else:
        plain = nx.Graph()
        plain.add_nodes_from(graph.nodes)
        plain.add_edges_from(graph.edges)
        data = from_networkx(plain)
    return data


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
                g = networkx_to_data(g, recipe, node_attrs)
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
EMBED_PARAMS = {"batch_size": Interval(int, 1, 2 ** 31), "device": DEVICE}


def embed(model, graphs, batch_size: int = 256,
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
    batch_size = check(EMBED_PARAMS["batch_size"], batch_size, "batch_size")
    device = resolve_device(check(EMBED_PARAMS["device"], str(device)
                                  if isinstance(device, torch.device)
                                  else device, "device"))
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


def _read_graph_file(path: Path):
    try:
        return READERS[path.suffix](path)
    except Exception as err:  # networkx raises many kinds on broken files
        raise InvalidValueError(f"{path} cannot be read as a {path.suffix[1:]} "
                                f"graph ({type(err).__name__}). Fix or remove "
                                "the file.") from err


def graph_files(folder: str | os.PathLike) -> list[Path]:
    """The graph files of a folder that :func:`read_graphs` reads, in its
    order (sorted by name): the rows of their embeddings."""
    files = sorted(p for p in user_path(folder, "folder", "folder").iterdir()
                   if p.suffix in READERS)
    if not files:
        raise MissingFileError(
            f"{folder} holds no graph files ({', '.join(READERS)}).")
    return files


def read_graphs(path: str | os.PathLike) -> list:
    """Graphs from a pickle file (a list of networkx graphs or PyG ``Data``;
    load only pickles you trust) or from a folder of ``.graphml``, ``.gml``,
    ``.edgelist`` or ``.adjlist`` files (:func:`graph_files`' order)."""
    path = user_path(path, "path")
    if path.is_dir():
        return [_read_graph_file(p) for p in graph_files(path)]
    if not path.is_file():
        raise MissingFileError(f"{path} does not exist; give a .pkl file "
                               "or a folder of graph files.")
    try:
        with open(path, "rb") as f:
            graphs = pickle.load(f)
    except OSError as err:
        raise PathError(f"{path} cannot be read ({err.strerror}); check the "
                        "file's permissions (for example chmod a+r).") from err
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError,
            AttributeError, ImportError, IndexError) as err:
        raise InvalidValueError(
            f"{path} is not a pickle of graphs ({type(err).__name__}). "
            "Give a .pkl file holding a list of networkx graphs or PyG Data, "
            "or a folder of .graphml, .gml, .edgelist or .adjlist files.") \
            from err
    if isinstance(graphs, (nx.Graph, Data)):
        graphs = [graphs]
    return list(graphs)


#: The public names (the API reference lists these).
__all__ = ["embed", "read_graphs", "graph_files", "networkx_to_data"]
