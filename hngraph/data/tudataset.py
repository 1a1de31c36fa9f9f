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

import os
import os.path as osp
import shutil
import warnings
from pathlib import Path

from filelock import FileLock
from torch_geometric.data import Data, InMemoryDataset
from torch_geometric.datasets import TUDataset
from torch_geometric.io import fs

from ..config import user_path
from ..constraints import (
    DATASET,
    FEATURES,
    Either,
    Nullable,
    OfType,
    validate_params,
)
from ..errors import (
    CacheError,
    DatasetNotFoundError,
    HngraphError,
    InvalidValueError,
)
from .batching import check_data
from .features import (
    apply_feature_recipe,
    feature_transform,
    fit_feature_recipe,
)
from .tu_files import (
    REQUIRED,
    RawFileError,
    content_hash,
    raw_path,
    read_table,
    read_tu,
)

#: Bumped whenever the graphs built from the same raw files change.
_READER_VERSION = 1


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """The writable cache: ``path``, else ``$HNGRAPH_CACHE``, else
    ``~/.cache/hngraph``."""
    if path is not None:
        return user_path(path, "cache", kind="folder")
    return Path(os.environ.get("HNGRAPH_CACHE") or
                osp.join(osp.expanduser("~"), ".cache", "hngraph"))


def _has_raw(folder: Path, name: str) -> bool:
    return all(osp.lexists(raw_path(folder, name, kind)) for kind in REQUIRED)


def _available(base: Path) -> list[str]:
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if _has_raw(p / "raw", p.name))


def validate_raw(raw_dir: str | os.PathLike, name: str) -> None:
    """Check a dataset's raw TU files, each on its own and against each
    other (see :func:`hngraph.data.tu_files.read_tu`).

    Raises:
        RawFileError: naming the file, the line where there is one, what was
            expected and the fix (for example a graph indicator shorter than
            the node count, or a labels file with the wrong number of lines).
    """
    read_tu(raw_dir, name)


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
        """The graphs of :func:`hngraph.data.tu_files.read_tu`, every graph kept
        (PyG's own reader counts graphs from the edge slices, so it loses
        trailing graphs without edges)."""
        graphs, sizes = read_tu(self.raw_dir, self.name)
        self.data, self.slices = self.collate(graphs)
        fs.torch_save((self._data.to_dict(), self.slices, sizes,
                       self._data.__class__), self.processed_paths[0])

    @property
    def processed_dir(self) -> str:
        return str(self._processed)


def _cache_key(raw_dir: str, name: str) -> str:
    """The processed cache's key: the reader's version and a hash of the
    raw files' contents (an edited file gets a new cache, however its size
    and modification time were kept)."""
    return f"v{_READER_VERSION}-{content_hash(raw_dir, name)}"


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
            f"the processed-data cache {folder} cannot be written "
            f"({err.strerror or type(err).__name__}). "
            "Point HNGRAPH_CACHE (or cache=) at a writable folder, for "
            "example `export HNGRAPH_CACHE=/tmp/hngraph-cache`.") from err


def _open_locked(cache_root, name, raw, use_node_attr, folder: Path):
    final = folder / f"processed_{_cache_key(raw, name)}" if raw else \
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


#: The parameters of :class:`GraphDataset` (beside ``data_list``, which
#: :func:`~hngraph.data.batching.check_data` checks).
GRAPH_DATASET_PARAMS = {"name": OfType(str), "feature_recipe": OfType(dict),
                        "raw_dir": Nullable(Either(
                            OfType(str), OfType(os.PathLike, "a path")))}


class GraphDataset(InMemoryDataset):
    """An in-memory graph dataset with its feature recipe.

    Attributes:
        name: dataset name.
        feature_recipe: how node features were built (see
            :func:`apply_feature_recipe`); stored with checkpoints so that new
            graphs are embedded with the same features.
        raw_dir: where the raw files were read from (``None`` if not TU).
    """

    @validate_params(GRAPH_DATASET_PARAMS)
    def __init__(self, data_list: list[Data], name: str,
                 feature_recipe: dict, *, raw_dir: str | None = None):
        try:
            feature_transform(feature_recipe)
        except HngraphError as err:
            raise InvalidValueError(f"feature_recipe: {err}") from err
        data_list = check_data(data_list, "data_list")
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
        raise InvalidValueError(
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
        bases = [("root", user_path(root, "root", kind="folder"))]
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


def count_nodes(name: str, *, root: str | os.PathLike | None = None
                ) -> int | None:
    """The number of nodes of TU dataset ``name``, for estimates: the lines
    of its raw ``NAME_graph_indicator.txt`` (one per node; counted, not
    parsed), or ``None`` where no raw files are found."""
    raw, _ = _find_raw(name, root)
    if raw is None:
        return None
    data = raw_path(raw, name, "graph_indicator").read_bytes()
    return data.count(b"\n") + (not data.endswith(b"\n") and bool(data))


def count_graphs(name: str, *, root: str | os.PathLike | None = None) -> int:
    """The number of graphs of TU dataset ``name``: the lines of its raw
    ``NAME_graph_labels.txt`` (found as :func:`load_tudataset` finds it),
    the length :func:`load_tudataset` gives, without building the graphs;
    where no raw files are found, that length."""
    raw, _ = _find_raw(name, root)
    if raw is None:
        return len(load_tudataset(name, root=root))
    return len(read_table(raw_path(raw, name, "graph_labels"),
                          "graph_labels").values)


#: The parameters of :func:`load_tudataset` (beside the paths ``root`` and
#: ``cache``).
LOAD_TUDATASET_PARAMS = {"name": DATASET, "features": FEATURES,
                         "use_node_attr": OfType(bool),
                         "download": OfType(bool)}


@validate_params(LOAD_TUDATASET_PARAMS)
def load_tudataset(name: str, *, root: str | os.PathLike | None = None,
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
        raise _not_found(name, root, looked, type(err).__name__) \
            from err
    graphs = [tu[i] for i in range(len(tu))]
    check_graphs(graphs)
    recipe = fit_feature_recipe(graphs, features)
    vocab = _label_vocabulary(Path(raw or tu.raw_dir), name)
    if recipe["kind"] == "labels" and len(vocab) == recipe["dim"] > 1:
        recipe["vocab"] = vocab  # x is exactly the one-hot node labels
    graphs = [apply_feature_recipe(g, recipe) for g in graphs]
    return GraphDataset(graphs, name, recipe, raw_dir=raw or tu.raw_dir)


def _label_vocabulary(raw: Path, name: str) -> list[int]:
    """The node labels of ``NAME_node_labels.txt`` that PyG one-hot encodes,
    column ``i`` for label ``min + i`` (one label column; ``[]`` for none),
    so that users' integer labels can be encoded alike."""
    path = raw / f"{name}_node_labels.txt"
    if not path.is_file():
        return []
    labels = read_table(path, "node_labels").values
    if labels.shape[1] != 1 or not labels.size:  # no one vocabulary
        return []
    return list(range(int(labels.min()), int(labels.max()) + 1))


def remove_failed_download(folder: Path) -> None:
    """Remove ``folder`` if a failed download left nothing in it but the
    cache's lock file."""
    if folder.is_dir() and not any(p.is_file() and p.name != ".lock"
                                   for p in folder.rglob("*")):
        shutil.rmtree(folder)


def _not_found(name, root, looked, why) -> HngraphError:
    """The error of a dataset found nowhere: where it was looked for and
    what is there; a folder that holds some of its raw files but not all
    is named with the files it lacks (a :class:`RawFileError`)."""
    if root is not None:
        bases = [Path(root)]
    elif os.environ.get("HNGRAPH_DATA"):
        bases = [Path(os.environ["HNGRAPH_DATA"])]
    else:
        bases = []
    for base in bases:
        for folder in (base / name / "raw", base / name):
            present = [k for k in REQUIRED
                       if osp.lexists(raw_path(folder, name, k))]
            if present:
                lacks = [Path(raw_path(folder, name, k)).name
                         for k in REQUIRED if k not in present]
                return RawFileError(
                    f"{folder} holds dataset {name!r} without "
                    f"{' and '.join(lacks)}; a TU dataset needs "
                    f"{', '.join(Path(raw_path(folder, name, k)).name for k in REQUIRED)}"
                    " (the labels file: one class label per graph, line k "
                    "for graph k). Restore the missing file(s).")
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
__all__ = ["GraphDataset", "load_tudataset", "count_graphs", "count_nodes",
           "validate_raw", "cache_dir"]
