"""Your own graphs: networkx files and pickles read (the rows of ``hngraph
embed``), made PyG ``Data``, and loaded as a training dataset with labels
(:func:`load_graph_folder`, the ``folder`` source of
:data:`hngraph.registry.SOURCES`)."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import networkx as nx
import torch
from torch_geometric.data import Data
from torch_geometric.utils import from_networkx

from ..config import user_path
from ..constraints import DATASET, FEATURES, validate_params
from ..errors import (
    DatasetNotFoundError,
    HngraphError,
    InvalidValueError,
    MissingFileError,
    PathError,
)
from .features import apply_feature_recipe, fit_feature_recipe
from .tudataset import GraphDataset, check_graphs

#: Readers for the files of an input folder, by suffix.
READERS = {".graphml": nx.read_graphml, ".gml": nx.read_gml,
           ".edgelist": nx.read_edgelist, ".adjlist": nx.read_adjlist}


def networkx_to_data(graph: nx.Graph, recipe: dict,
                     *, node_attrs: list[str] | None = None) -> Data:
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
    found = user_path(folder, "folder", kind="folder").iterdir()
    files = sorted(p for p in found
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


#: The parameters of :func:`load_graph_folder` (beside ``root``).
LOAD_GRAPH_FOLDER_PARAMS = {"name": DATASET, "features": FEATURES}

#: The file of a folder's graph labels, one integer per line in the order
#: of :func:`graph_files`.
LABELS_FILE = "labels.txt"


@validate_params(LOAD_GRAPH_FOLDER_PARAMS)
def load_graph_folder(name: str, *, root: str | os.PathLike | None = None,
                      features: str = "auto") -> GraphDataset:
    """Your own labelled graphs as a training dataset: the folder
    ``<root>/<name>/`` of graph files (:func:`graph_files`), or the pickle
    ``<root>/<name>.pkl`` (a list of PyG ``Data`` or networkx graphs; load
    only pickles you trust). ``root`` defaults to the current folder.

    Each graph's label (for the SVM stage) is its ``y`` (``Data``) or its
    graph attribute ``label`` (networkx), or else the line of
    ``labels.txt`` beside the graph files. Node features follow
    ``features`` as for TU datasets (:func:`fit_feature_recipe`): networkx
    node attributes that every node has become ``x`` (``"labels"``).

    Returns:
        A :class:`~hngraph.data.tudataset.GraphDataset`.
    """
    base = user_path(root or ".", "root", kind="folder")
    folder, pickled = base / name, base / f"{name}.pkl"
    source = folder if folder.is_dir() else pickled
    if not source.is_file() and not folder.is_dir():
        raise DatasetNotFoundError(
            f"your own graphs {name!r} are not in {base}: give the folder "
            f"{folder} (graph files and {LABELS_FILE}) or the pickle "
            f"{pickled}, or another root (--root).")
    graphs = read_graphs(source)
    labels = _labels(graphs, folder if folder.is_dir() else None, source)
    data = []
    for i, (g, y) in enumerate(zip(graphs, labels, strict=True)):
        try:
            d = g.clone() if isinstance(g, Data) else _structure_and_attrs(g)
        except HngraphError as err:
            raise InvalidValueError(f"{source}: graph {i}: {err}") from err
        d.y = torch.tensor([y])
        data.append(d)
    check_graphs(data)
    recipe = fit_feature_recipe(data, features)
    data = [apply_feature_recipe(d, recipe) for d in data]
    return GraphDataset(data, name, recipe, raw_dir=str(source))


def _structure_and_attrs(graph: nx.Graph) -> Data:
    """A networkx graph as ``Data``: its node attributes that every node
    has as ``x`` where there are any, else the structure alone."""
    common = set.intersection(*[set(d) for _, d in graph.nodes(data=True)]) \
        if graph.number_of_nodes() else set()
    kind = "labels" if common else "structure"
    return networkx_to_data(graph, {"kind": kind, "dim": len(common)})


def _labels(graphs: list, folder: Path | None, source: Path) -> list[int]:
    """Each graph's label: ``y``, the graph attribute ``label``, or the
    lines of the folder's ``labels.txt``."""
    listed = folder / LABELS_FILE if folder is not None else None
    if listed is not None and listed.is_file():
        lines = [v.strip() for v in listed.read_text().splitlines()
                 if v.strip()]
        if len(lines) != len(graphs):
            raise InvalidValueError(
                f"{listed} has {len(lines)} label(s) for {len(graphs)} "
                "graph files; give one integer per line, in the files' "
                "name order.")
        bad = next((n for n, v in enumerate(lines, 1)
                    if not v.lstrip("-").isdigit()), None)
        if bad is not None:
            raise InvalidValueError(f"{listed}, line {bad}: {lines[bad - 1]!r} "
                                    "is not an integer label; give one per "
                                    "line.")
        return [int(v) for v in lines]
    labels = []
    for i, g in enumerate(graphs):
        y = g.y if isinstance(g, Data) else g.graph.get("label")
        if y is None or (torch.is_tensor(y) and y.numel() != 1):
            raise InvalidValueError(
                f"{source}: graph {i} has no single label ("
                f"{'y' if isinstance(g, Data) else 'graph attribute label'}); "
                f"give every graph one, or write {LABELS_FILE} beside the "
                "graph files (one integer per line).")
        labels.append(int(y.item() if torch.is_tensor(y) else y))
    return labels


#: The public names (the API reference lists these).
__all__ = ["networkx_to_data", "read_graphs", "graph_files",
           "load_graph_folder", "READERS", "LABELS_FILE"]
