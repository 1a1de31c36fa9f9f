"""OGB graph property prediction datasets.

``load_ogb`` loads through :class:`ogb.graphproppred.PygGraphPropPredDataset`
with the official split; :func:`hngraph.eval.scoring.linear_probe` scores
embeddings of them.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch_geometric.data.data import Data, DataEdgeAttr, DataTensorAttr
from torch_geometric.data.storage import GlobalStorage

from ..config import user_path
from .features import apply_feature_recipe, fit_feature_recipe
from .tudataset import (
    DatasetNotFoundError,
    GraphDataset,
    cache_dir,
    check_graphs,
    remove_failed_download,
)

_PYG_DATA_CLASSES = [Data, DataEdgeAttr, DataTensorAttr, GlobalStorage]


def _ogb_root(root) -> Path:
    if root is not None:
        return user_path(root, "root", kind="folder")
    if os.environ.get("HNGRAPH_OGB_DATA"):
        return Path(os.environ["HNGRAPH_OGB_DATA"])
    return cache_dir() / "ogb"


def load_ogb(name: str, *, root: str | os.PathLike | None = None,
             features: str = "auto") -> GraphDataset:
    """An OGB graph property prediction dataset with its official split.

    Files are looked up in ``root/<name with _>/`` (default
    ``$HNGRAPH_OGB_DATA``, else the hngraph cache) and downloaded by OGB
    where they are absent and a network is reachable.

    Node features: molecules (``ogbg-mol*``) get their categorical atom
    features one-hot encoded (OGB's ``get_atom_feature_dims``); other
    datasets follow ``features`` as in :func:`~hngraph.data.tudataset.load_tudataset`.

    Returns:
        A :class:`~hngraph.data.tudataset.GraphDataset` with ``split_idx`` (``train``,
            ``valid``, ``test`` index tensors) and ``ogb_name`` attributes.
    """
    from ogb.graphproppred import PygGraphPropPredDataset
    from ogb.utils.features import get_atom_feature_dims

    base = _ogb_root(root)
    folder = base / "_".join(name.split("-"))
    if folder.is_dir() and not list(folder.glob("RELEASE_v*.txt")):
        raise DatasetNotFoundError(
            f"{folder} exists but has no RELEASE_v*.txt, so OGB would ask "
            "whether to replace it. Delete the folder to download it again, "
            "or add the release file of its OGB version.")
    try:
        # OGB reads back its own processed file with torch.load; allow the
        # PyG classes it holds under torch's weights-only loading.
        with torch.serialization.safe_globals(_PYG_DATA_CLASSES):
            ogb = PygGraphPropPredDataset(name=name, root=str(base))
    except ValueError:
        raise
    except Exception as err:  # download failures, missing raw files
        remove_failed_download(folder)
        raise DatasetNotFoundError(
            f"OGB dataset {name!r} is not in {folder} and could not be "
            f"downloaded ({type(err).__name__}). Where no network is "
            f"reachable, copy the dataset's folder (with raw/, split/ and "
            f"RELEASE_v*.txt) to {folder}, or point HNGRAPH_OGB_DATA at the "
            "folder that holds it.") from err
    graphs = [ogb[i] for i in range(len(ogb))]
    check_graphs(graphs)
    if name.startswith("ogbg-mol"):
        sizes = get_atom_feature_dims()
        recipe = {"kind": "onehot_columns", "sizes": sizes, "dim": sum(sizes)}
    else:
        recipe = fit_feature_recipe(graphs, features)
    graphs = [apply_feature_recipe(g, recipe) for g in graphs]
    for g in graphs:
        g.edge_attr = None  # the GIN encoder does not use edge features
    dataset = GraphDataset(graphs, name, recipe, raw_dir=str(folder))
    dataset.split_idx = ogb.get_idx_split()
    dataset.ogb_name = name
    return dataset


#: The public names (the API reference lists these).
__all__ = ["load_ogb"]
