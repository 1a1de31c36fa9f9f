r"""TUDataset loading, offline first, with InfoGraph / HCL node features.

Raw TU files are looked up in this order:

1. ``root/NAME/raw/`` when ``root`` is given;
2. ``$HNGRAPH_DATA/NAME/raw/`` when the environment variable is set;
3. otherwise they are downloaded through PyG into the cache directory.

The processed PyG cache always goes to the cache directory
(``cache_dir``, else ``$HNGRAPH_CACHE``, else ``~/.cache/hngraph``), never
into the folder the raw files are read from.
"""
from __future__ import annotations

import hashlib
import os
import os.path as osp
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from filelock import FileLock
from torch_geometric.data import Data, InMemoryDataset
from torch_geometric.datasets import TUDataset
from torch_geometric.io import fs, read_tu_data

from .errors import CacheError, DatasetNotFoundError, RawFileError
from .features import apply_feature_recipe, fit_feature_recipe


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """The writable cache: ``path``, else ``$HNGRAPH_CACHE``, else
    ``~/.cache/hngraph``."""
    path = path or os.environ.get("HNGRAPH_CACHE") or \
        osp.join(osp.expanduser("~"), ".cache", "hngraph")
    return Path(path)


def _required_files(name: str) -> list[str]:
    return [f"{name}_{s}.txt" for s in ("A", "graph_indicator", "graph_labels")]


def _has_raw(folder: Path, name: str) -> bool:
    return all((folder / f).is_file() for f in _required_files(name))


def _available(base: Path) -> list[str]:
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if _has_raw(p / "raw", p.name))


def _read_ints(path: Path, columns: int) -> np.ndarray:
    """The integers of a TU text file, ``columns`` per line."""
    try:
        table = pd.read_csv(path, header=None, skipinitialspace=True,
                            dtype=np.int64)
    except pd.errors.EmptyDataError:
        return np.zeros((0, columns), dtype=np.int64)
    except OSError as err:
        raise _unreadable(path, err) from err
    except (ValueError, pd.errors.ParserError) as err:
        raise RawFileError(f"{path}{_first_bad_line(path, columns)} holds "
                           f"something other than {columns} comma-separated "
                           "integer(s). Restore the file from the TU "
                           "collection.") from err
    if table.shape[1] != columns:
        raise RawFileError(f"{path} has {table.shape[1]} column(s) per line, "
                           f"but {columns} are expected. Restore the file "
                           "from the TU collection.")
    return table.to_numpy()


def _first_bad_line(path: Path, columns: int) -> str:
    """``", line N ('text')"`` of the first line that is not a
    comma-separated list of ``columns`` integers, or ``""``."""
    with open(path, errors="replace") as f:
        for number, line in enumerate(f, 1):
            try:
                values = [int(v) for v in line.split(",") if v.strip()]
            except ValueError:
                values = None
            if line.strip() and (values is None or len(values) != columns):
                return f", line {number} ({line.strip()[:40]!r}),"
    return ""


def _line_count(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return sum(1 for line in f if line.strip())
    except OSError as err:
        raise _unreadable(path, err) from err


def _unreadable(path: Path, err: OSError) -> RawFileError:
    return RawFileError(f"{path} cannot be read ({err.strerror}). Check the "
                        "file's permissions (for example chmod a+r).")


def validate_raw(raw_dir: str | os.PathLike, name: str) -> None:
    """Check that a dataset's raw TU files agree with each other.

    Raises :class:`RawFileError` naming the file, the mismatch and the fix
    (for example a graph indicator shorter than the node count, or a labels
    file with the wrong number of lines).
    """
    raw = Path(raw_dir)
    fix = (f"Restore the files from the TU collection (or delete {raw} to "
           "download them again where a network is available).")
    for f in _required_files(name):
        if not (raw / f).is_file():
            raise RawFileError(f"{raw / f} is missing. {fix}")
    indicator = _read_ints(raw / f"{name}_graph_indicator.txt", 1)[:, 0]
    num_nodes = len(indicator)
    if num_nodes == 0:
        raise RawFileError(f"{raw}/{name}_graph_indicator.txt is empty. {fix}")
    num_graphs = int(indicator.max())
    if indicator.min() < 1 or np.any(np.diff(indicator) < 0):
        raise RawFileError(f"{raw}/{name}_graph_indicator.txt must list graph "
                           "ids from 1, in non-decreasing order. " + fix)
    missing = np.setdiff1d(np.arange(1, num_graphs + 1), indicator)
    if missing.size:
        raise RawFileError(
            f"{raw}/{name}_graph_indicator.txt gives no node to graph(s) "
            f"{missing[:5].tolist()}: empty graphs (0 nodes) cannot be "
            f"embedded. Remove them from the files, or restore them. {fix}")
    edges = _read_ints(raw / f"{name}_A.txt", 2)
    if edges.size and (edges.max() > num_nodes or edges.min() < 1):
        raise RawFileError(
            f"{raw}/{name}_A.txt refers to node {int(edges.max())}, but "
            f"{name}_graph_indicator.txt has {num_nodes} lines (nodes): one "
            f"of the two files is truncated. {fix}")
    across = np.flatnonzero(indicator[edges[:, 0] - 1]
                            != indicator[edges[:, 1] - 1]) if edges.size \
        else []
    if len(across):
        raise RawFileError(
            f"{raw}/{name}_A.txt, line {across[0] + 1}, joins nodes of two "
            f"different graphs; every edge must stay inside its graph. {fix}")
    for kind in ("graph_labels", "node_labels", "edge_labels"):
        if (raw / f"{name}_{kind}.txt").is_file():
            _read_ints(raw / f"{name}_{kind}.txt", 1)
    counts = {"graph_labels": num_graphs, "node_labels": num_nodes,
              "node_attributes": num_nodes, "edge_labels": len(edges),
              "edge_attributes": len(edges)}
    for kind, expected in counts.items():
        path = raw / f"{name}_{kind}.txt"
        if path.is_file() and (got := _line_count(path)) != expected:
            raise RawFileError(
                f"{path} has {got} lines, but {expected} are expected (one "
                f"per {'graph' if kind == 'graph_labels' else kind.split('_')[0]}"
                f"). The file is truncated or belongs to another version of "
                f"{name}. {fix}")


class _CachedTUDataset(TUDataset):
    """PyG's TUDataset reading raw files from ``raw_source`` (read only) and
    keeping its processed files in ``processed`` (see :func:`_open_cached`)."""

    def __init__(self, cache_root: str, name: str, raw_source: str | None,
                 use_node_attr: bool, processed: Path):
        self._raw_source, self._processed = raw_source, processed
        super().__init__(cache_root, name, use_node_attr=use_node_attr)

    @property
    def log(self) -> bool:
        """PyG's "Processing... Done!" lines stay out of the user's output
        (TUDataset takes no ``log`` argument, and sets this attribute)."""
        return False

    @log.setter
    def log(self, value: bool) -> None:
        pass

    @property
    def raw_dir(self) -> str:
        return self._raw_source or super().raw_dir

    def process(self) -> None:
        """PyG's processing, with every graph kept: PyG counts graphs from
        the edge slices, so trailing graphs without edges would be lost."""
        validate_raw(self.raw_dir, self.name)
        data, slices, sizes = read_tu_data(self.raw_dir, self.name)
        graphs = slices["y"].numel()
        for key in ("edge_index", "edge_attr"):
            short = graphs - slices[key].numel() if key in slices else 0
            if short > 0:
                slices[key] = torch.cat([slices[key],
                                         slices[key][-1:].repeat(short)])
        self.data, self.slices = data, slices
        fs.torch_save((self._data.to_dict(), self.slices, sizes,
                       self._data.__class__), self.processed_paths[0])

    @property
    def processed_dir(self) -> str:
        return str(self._processed)


def _cache_key(raw_dir: str) -> str:
    """A hash of the raw folder's path and of every file's name, size and
    modification time: an edited raw file gets a new processed cache."""
    parts = [osp.realpath(raw_dir)]
    for path in sorted(Path(raw_dir).iterdir()):
        if path.is_file():
            st = path.stat()
            parts.append(f"{path.name}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:12]


def _open_cached(cache_root: str, name: str, raw: str | None,
                 use_node_attr: bool) -> TUDataset:
    """The TU dataset through its processed cache, safe under concurrency.

    The cache folder ``processed_<key>`` (see :func:`_cache_key`) is built
    under a file lock by one process at a time, in a temporary folder that
    is renamed into place when complete: a reader never sees a partial file,
    and a build killed half-way leaves only a temporary folder, removed by
    the next build. A cache that cannot be read is rebuilt from the raw
    files, with a warning that names it.
    """
    folder = Path(cache_root) / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(folder / ".lock"))
        with lock:
            return _open_locked(cache_root, name, raw, use_node_attr, folder)
    except (PermissionError, FileExistsError, NotADirectoryError) as err:
        raise CacheError(
            f"the processed-data cache {folder} cannot be written ({err}). "
            "Point HNGRAPH_CACHE (or cache=) at a writable folder, for "
            "example `export HNGRAPH_CACHE=/tmp/hngraph-cache`.") from err


def _open_locked(cache_root, name, raw, use_node_attr, folder: Path):
    final = folder / f"processed_{_cache_key(raw)}" if raw else \
        folder / "processed"  # downloaded raw files: no local copy to key
    if final.is_dir():
        try:
            return _CachedTUDataset(cache_root, name, raw, use_node_attr,
                                    final)
        except Exception as err:  # truncated, empty or garbage files
            warnings.warn(f"the processed cache {final} could not be read "
                          f"({type(err).__name__}); rebuilding it from the "
                          "raw files.", stacklevel=4)
            shutil.rmtree(final)
    for stale in folder.glob("*.building-*"):  # left by a killed build
        shutil.rmtree(stale, ignore_errors=True)
    building = folder / f"{final.name}.building-{os.getpid()}"
    try:
        dataset = _CachedTUDataset(cache_root, name, raw, use_node_attr,
                                   building)
        os.replace(building, final)
    except BaseException:  # Ctrl-C included: leave no temporary folder
        shutil.rmtree(building, ignore_errors=True)
        raise
    dataset._processed = final
    return dataset


class GraphDataset(InMemoryDataset):
    """An in-memory graph dataset with its feature recipe.

    Attributes:
        name: dataset name.
        feature_recipe: how node features were built (see
            :func:`apply_feature_recipe`); stored with checkpoints so that new
            graphs are embedded with the same features.
        raw_dir: where the raw files were read from (``None`` if not TU).
    """

    def __init__(self, data_list: list[Data], name: str,
                 feature_recipe: dict, raw_dir: str | None = None):
        super().__init__()
        self.name, self.feature_recipe, self.raw_dir_used = \
            name, feature_recipe, raw_dir
        self.data, self.slices = self.collate(data_list)

    def __repr__(self) -> str:
        return (f"{self.name}({len(self)}, features="
                f"{self.feature_recipe['kind']}, dim={self.num_features})")


def check_graphs(graphs) -> None:
    """Reject graphs with no node; warn about graphs with no edge.

    A graph without nodes has no embedding (its sum pool would be silently
    dropped from a batch); a graph without edges is legal, and its embedding
    comes from its node features alone.
    """
    empty = [i for i, g in enumerate(graphs) if g.num_nodes in (0, None)]
    if empty:
        raise ValueError(
            f"{len(empty)} graph(s) have no nodes (indices {empty[:10]}); "
            "an empty graph has no embedding. Remove them before embedding "
            "or training.")
    edgeless = [i for i, g in enumerate(graphs)
                if g.edge_index is None or g.edge_index.numel() == 0]
    if edgeless:
        warnings.warn(
            f"{len(edgeless)} graph(s) have no edges (indices "
            f"{edgeless[:10]}); their embeddings come from node features "
            "alone. Check the edge lists if this is unexpected.",
            stacklevel=3)


def _find_raw(name: str, root) -> tuple[str | None, list[str]]:
    """The raw folder of ``name`` and the folders that were searched: under
    ``root`` when it is given, else under ``$HNGRAPH_DATA``."""
    looked = []
    if root is not None:  # a root named is the only place to look
        bases = [("root", Path(root).expanduser())]
    elif os.environ.get("HNGRAPH_DATA"):
        bases = [("$HNGRAPH_DATA", Path(os.environ["HNGRAPH_DATA"]))]
    else:
        bases = []
    for label, base in bases:
        for folder in (base / name / "raw", base / name):
            looked.append(f"{folder} ({label})")
            if _has_raw(folder, name):
                return str(folder), looked
    return None, looked


def load_tudataset(name: str, root: str | os.PathLike | None = None,
                   features: str = "auto", use_node_attr: bool = False,
                   cache: str | os.PathLike | None = None,
                   download: bool = True) -> GraphDataset:
    """Load a TUDataset with node features ready for the GIN encoder.

    Args:
        name: TU name, for example ``"MUTAG"`` (case sensitive).
        root: folder holding ``NAME/raw/NAME_A.txt`` and the other raw files
            (when given, the only place looked in). Defaults to
            ``$HNGRAPH_DATA``; files are never written there.
        features: ``"auto"``, ``"labels"``, ``"degree"`` or ``"constant"``
            (see :func:`fit_feature_recipe`).
        use_node_attr: also use continuous node attributes where present.
        cache: writable folder for processed files and downloads.
        download: try to download from the TU collection when no raw files
            are found locally.

    Returns:
        A :class:`GraphDataset` whose ``x`` is float and ``y`` holds labels.

    Raises:
        DatasetNotFoundError: the raw files were found nowhere and could not
            be downloaded; the message lists where it looked and what exists.
    """
    raw, looked = _find_raw(name, root)
    if raw is None and root is not None:
        raise _not_found(name, root, looked, "a root was given, so nothing "
                         "else is tried")
    cache_root = str(cache_dir(cache) / "TUDataset")
    if raw is None and not _has_raw(Path(cache_root) / name / "raw", name):
        if not download:
            raise _not_found(name, root, looked, "download=False")
    try:
        tu = _open_cached(cache_root, name, raw, use_node_attr)
    except Exception as err:  # network errors, 404 for unknown names
        if raw is not None or isinstance(err, CacheError):
            raise
        remove_failed_download(Path(cache_root) / name)
        raise _not_found(name, root, looked, f"{type(err).__name__}: {err}") \
            from err
    graphs = [tu[i] for i in range(len(tu))]
    check_graphs(graphs)
    recipe = fit_feature_recipe(graphs, features)
    vocab = _label_vocabulary(Path(raw or tu.raw_dir), name)
    if recipe["kind"] == "labels" and len(vocab) == recipe["dim"] > 1:
        recipe["vocab"] = vocab  # x is exactly the one-hot node labels
    graphs = [apply_feature_recipe(g, recipe) for g in graphs]
    return GraphDataset(graphs, name, recipe, raw or tu.raw_dir)


def _label_vocabulary(raw: Path, name: str) -> list[int]:
    """The node labels of ``NAME_node_labels.txt`` that PyG one-hot encodes,
    column ``i`` for label ``min + i`` (one label column; ``[]`` for none),
    so that users' integer labels can be encoded alike."""
    path = raw / f"{name}_node_labels.txt"
    if not path.is_file():
        return []
    try:
        labels = _read_ints(path, 1)[:, 0]
    except RawFileError:  # several label columns: no one vocabulary
        return []
    if not labels.size:
        return []
    return list(range(int(labels.min()), int(labels.max()) + 1))


def remove_failed_download(folder: Path) -> None:
    """Remove ``folder`` if a failed download left nothing in it but the
    cache's lock file."""
    if folder.is_dir() and not any(p.is_file() and p.name != ".lock"
                                   for p in folder.rglob("*")):
        shutil.rmtree(folder)


def _not_found(name, root, looked, why) -> DatasetNotFoundError:
    bases = [Path(root)] if root is not None else []
    if os.environ.get("HNGRAPH_DATA"):
        bases.append(Path(os.environ["HNGRAPH_DATA"]))
    names = sorted({n for b in bases for n in _available(b)})
    where = "\n  ".join(looked) or "(no root given and HNGRAPH_DATA unset)"
    have = ", ".join(names) if names else "none"
    return DatasetNotFoundError(
        f"TU dataset {name!r} not found. Looked in:\n  {where}\n"
        f"Datasets available there: {have}.\n"
        f"Download failed or was not allowed ({why}).\n"
        f"Fix: check the spelling (names are case sensitive), or point "
        f"HNGRAPH_DATA at a folder that holds {name}/raw/{name}_A.txt, "
        f"{name}_graph_indicator.txt and {name}_graph_labels.txt, for example "
        f"`export HNGRAPH_DATA=../shared/data/TUDataset`.")


#: The public names (the API reference lists these).
__all__ = ["GraphDataset", "load_tudataset", "validate_raw", "cache_dir"]
