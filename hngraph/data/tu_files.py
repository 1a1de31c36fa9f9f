r"""The raw TU dataset files: one reader for all of them.

The format is that of the TU collection
(https://chrsmrrs.github.io/datasets/docs/format/): ``NAME_A.txt`` lists
the edges as ``node, node`` (ids from 1 over the whole dataset),
``NAME_graph_indicator.txt`` the graph of each node, and the other files
one line per node, edge or graph. Every file is parsed here, once, by one
tokenizer, and the graphs are built from that parse; what is tolerated and
what is refused is listed in the docs' *Input contracts* page. The graphs
are those of PyG's :class:`~torch_geometric.datasets.TUDataset`: labels
one-hot encoded from their smallest value, graph labels renumbered from 0,
self-loops removed and edges sorted.
"""
from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Data
from torch_geometric.utils import coalesce, one_hot, remove_self_loops

from ..errors import RawFileError

_INT = r"[ \t]*[+-]?[0-9]+[ \t]*"
_REAL = r"[ \t]*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t]*"
_INT64 = 2 ** 63 - 1

#: Each file kind: (integer values?, columns per line or None for any
#: number, the same on every line; what one line stands for).
KINDS = {
    "A": (True, 2, "edge"),
    "graph_indicator": (True, 1, "node"),
    "graph_labels": (True, 1, "graph"),
    "node_labels": (True, None, "node"),
    "edge_labels": (True, None, "edge"),
    "node_attributes": (False, None, "node"),
    "edge_attributes": (False, None, "edge"),
    "graph_attributes": (False, None, "graph"),
}
REQUIRED = ("A", "graph_indicator", "graph_labels")
#: The most entries (lines x columns) a label file's one-hot block may have.
MAX_ONE_HOT = 2 ** 26
#: The widest gap between two label values that occur in a label file's
#: column (the TU datasets' largest is 3, in DD); a wider one is refused as
#: a likely typo, whose one-hot columns no node would use.
MAX_LABEL_GAP = 100
_FIX = "Restore the file from the TU collection."


@dataclass(kw_only=True)
class Table:
    """One parsed TU file.

    Attributes:
        path: the file.
        values: ``[lines, columns]``, ``int64`` or ``float64``.
        lines: the file's line number of each row (blank lines skipped).
    """
    path: Path
    values: np.ndarray
    lines: np.ndarray

    def where(self, row: int) -> str:
        """``"PATH, line N"`` of row ``row``."""
        return f"{self.path}, line {int(self.lines[row])}"


def raw_path(raw_dir: str | os.PathLike, name: str, kind: str) -> Path:
    """The path of file ``kind`` (a key of :data:`KINDS`) of dataset
    ``name``."""
    return Path(raw_dir) / f"{name}_{kind}.txt"


def _read_bytes(path: Path) -> bytes:
    """The bytes of ``path``, a regular file (a link to one included)."""
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise RawFileError(f"{path} is not a regular file (it is a "
                               f"{_file_type(mode)}). {_FIX}")
        with open(path, "rb") as f:
            return f.read()
    except OSError as err:
        raise RawFileError(f"{path} cannot be read ({err.strerror}). Check "
                           "the file and its permissions (for example chmod "
                           "a+r).") from err


def _file_type(mode: int) -> str:
    return ("folder" if stat.S_ISDIR(mode) else "pipe" if stat.S_ISFIFO(mode)
            else "socket" if stat.S_ISSOCK(mode) else "device")


def read_table(path: str | os.PathLike, kind: str) -> Table:
    """Parse one TU file of kind ``kind`` (a key of :data:`KINDS`).

    Each non-blank line holds comma-separated values, the same number on
    every line: ASCII integers (``[+-]digits``) in the label, indicator and
    edge files, finite decimal numbers in the attribute files, spaces and
    tabs around them. ``\\n``, ``\\r\\n`` and ``\\r`` end lines; a UTF-8 byte
    order mark and a missing final newline are tolerated.

    Raises:
        RawFileError: naming the file, and the line and its text for
            anything it cannot read, with the expected form.
    """
    path = Path(path)
    integer, columns, _ = KINDS[kind]
    data = _read_bytes(path)
    data = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    numbered = [(n, line) for n, line in enumerate(data.splitlines(), 1)
                if line.strip(b" \t")]
    width = columns or (numbered[0][1].count(b",") + 1 if numbered else 1)
    pattern = _line_pattern(integer, width)
    for number, line in numbered:
        if not pattern.fullmatch(line):
            form = (f"{width} " + ("integers" if integer else "decimal "
                    "numbers") + " separated by commas"
                    + ("" if columns else ", as on the first line"))
            raise _bad_line(path, number, line, f"expected {form}")
    tokens = b",".join(line for _, line in numbered).split(b",")
    lines = np.array([n for n, _ in numbered], dtype=np.int64)
    if integer:
        big = [i for i, t in enumerate(tokens) if abs(int(t)) > _INT64] \
            if any(len(t.strip()) > 18 for t in tokens) else []
        if big:
            number = int(lines[big[0] // width])
            raise _bad_line(path, number, numbered[big[0] // width][1],
                            "an integer beyond 64 bits")
        values = np.array(list(map(int, tokens)) if numbered else [],
                          dtype=np.int64)
    else:
        values = np.array(list(map(float, tokens)) if numbered else [],
                          dtype=np.float64)
        infinite = np.flatnonzero(~np.isfinite(values))
        if infinite.size:
            row = infinite[0] // width
            raise _bad_line(path, int(lines[row]), numbered[row][1],
                            "a number too large for a 64-bit float")
    return Table(path=path, values=values.reshape(len(numbered), width),
                 lines=lines)


@lru_cache
def _line_pattern(integer: bool, width: int) -> re.Pattern:
    token = _INT if integer else _REAL
    return re.compile(",".join([token] * width).encode())


def _bad_line(path: Path, number: int, line: bytes, what: str) -> RawFileError:
    shown = line.decode("ascii", "backslashreplace")[:40]
    return RawFileError(f"{path}, line {number} ({shown!r}): {what}. {_FIX}")


def read_tu(raw_dir: str | os.PathLike, name: str
            ) -> tuple[list[Data], dict[str, int]]:
    """Read and check a dataset's raw TU files, and build its graphs.

    Beyond each file's form (see :func:`read_table`): the three required
    files exist; graph ids run from 1 without a gap, in non-decreasing
    order; edges join nodes of one graph, each listed in both directions;
    an edge listed twice is kept once, unless edge labels or attributes
    would have to be merged; every per-node, per-edge and per-graph file
    has one line each. Graph attributes are checked and not used: the
    labels are ``graph_labels``.

    Args:
        raw_dir: the folder holding the files.
        name: the dataset's name, the files' prefix.

    Returns:
        The graphs (``x``: node attributes then one-hot node labels, ``None``
        when there are none; ``edge_attr`` likewise; ``y``: the graph label,
        renumbered from 0), and the sizes of PyG's
        :class:`~torch_geometric.datasets.TUDataset`
        (``num_node_attributes``, ``num_node_labels``,
        ``num_edge_attributes``, ``num_edge_labels``).

    Raises:
        RawFileError: naming the file, the line where there is one, what was
            expected, and the fix.
    """
    for kind in REQUIRED:
        if not os.path.lexists(raw_path(raw_dir, name, kind)):
            raise RawFileError(f"{raw_path(raw_dir, name, kind)} is missing. "
                               f"{_FIX}")
    tables = {kind: read_table(raw_path(raw_dir, name, kind), kind)
              for kind in KINDS if kind in REQUIRED
              or os.path.lexists(raw_path(raw_dir, name, kind))}
    for kind in REQUIRED:
        if not len(tables[kind].values):
            raise RawFileError(f"{tables[kind].path} is empty (a dataset "
                               f"has graphs, nodes and edges). {_FIX}")
    batch = _graph_of_node(tables["graph_indicator"])
    edges = tables["A"]
    _check_edges(edges, batch, tables["graph_indicator"].path.name)
    counts = {"node": len(batch), "edge": len(edges.values),
              "graph": int(batch[-1]) + 1}
    for kind, table in tables.items():
        expected = counts[KINDS[kind][2]]
        if len(table.values) != expected:
            raise RawFileError(
                f"{table.path} has {len(table.values)} lines, but {expected} "
                f"are expected (one per {KINDS[kind][2]}). The file is "
                f"truncated or belongs to another version of {name}. {_FIX}")
    return _graphs(tables, batch)


def _graph_of_node(table: Table) -> np.ndarray:
    """The 0-based graph of each node, checked."""
    ids = table.values[:, 0]
    step = np.flatnonzero((np.diff(ids) != 0) & (np.diff(ids) != 1))
    if ids[0] != 1 or step.size:
        row = 0 if ids[0] != 1 else int(step[0]) + 1
        raise RawFileError(
            f"{table.where(row)} (graph {int(ids[row])}): graph ids must "
            "start at 1 and rise by 0 or 1 from line to line; a skipped id "
            "is a graph without nodes, which cannot be embedded. Remove it "
            f"from every file, or restore the files. {_FIX}")
    return ids - 1


def _check_edges(edges: Table, batch: np.ndarray, indicator: str) -> None:
    nodes = len(batch)
    if edges.values.size and edges.values.min() == 0 and \
            edges.values.max() < nodes:
        row = int(np.flatnonzero((edges.values == 0).any(1))[0])
        raise RawFileError(
            f"{edges.where(row)} refers to node 0, but TU files number nodes "
            f"from 1 (line k of {indicator} is node k): these ids start at "
            "0. Add 1 to every node id of the file.")
    out = np.flatnonzero((edges.values < 1).any(1) |
                         (edges.values > nodes).any(1))
    if out.size:
        row = int(out[0])
        node = edges.values[row][(edges.values[row] < 1).argmax()
                                 if (edges.values[row] < 1).any() else
                                 edges.values[row].argmax()]
        raise RawFileError(
            f"{edges.where(row)} refers to node {int(node)}, but {indicator} "
            f"has {nodes} lines (nodes): node ids run from 1 to {nodes}, and "
            f"one of the two files is truncated. {_FIX}")
    u, v = edges.values[:, 0] - 1, edges.values[:, 1] - 1
    across = np.flatnonzero(batch[u] != batch[v])
    if across.size:
        raise RawFileError(
            f"{edges.where(across[0])} joins nodes of two different graphs; "
            f"every edge must stay inside its graph. {_FIX}")
    codes, reverse = u * nodes + v, v * nodes + u
    one_way = np.flatnonzero(~np.isin(reverse, codes))
    if one_way.size:
        row = int(one_way[0])
        raise RawFileError(
            f"{edges.where(row)} lists the edge ({u[row] + 1}, {v[row] + 1}) "
            f"in one direction only: the graphs are undirected, and each edge "
            f"is listed both ways. Add the line '{v[row] + 1}, {u[row] + 1}', "
            f"or remove this one. {_FIX}")


def _one_hot_columns(table: Table) -> torch.Tensor:
    """Each label column one-hot encoded from its smallest value, side by
    side; refused beyond :data:`MAX_ONE_HOT` entries."""
    values = table.values
    for c in range(values.shape[1]):
        seen = np.unique(values[:, c])
        gaps = np.diff(seen)
        if gaps.size and gaps.max() > MAX_LABEL_GAP:
            after = seen[int(gaps.argmax()) + 1]
            row = int(np.flatnonzero(values[:, c] == after)[0])
            raise RawFileError(
                f"{table.where(row)}: label {int(after)} is far beyond the "
                f"others (none between {int(seen[gaps.argmax()])} and it, a "
                f"gap of {int(gaps.max())} > {MAX_LABEL_GAP}): one-hot "
                "encoded, every value between would be a column no node "
                f"uses. Is it a typo? Renumber the labels without gaps. {_FIX}")
    low, high = values.min(0), values.max(0)
    width = int((high.astype(float) - low + 1).sum())
    if width * len(values) > MAX_ONE_HOT:
        raise RawFileError(
            f"{table.path} holds labels from {low.tolist()} to "
            f"{high.tolist()}: one-hot encoded, {len(values)} lines x {width} "
            f"columns, beyond {MAX_ONE_HOT} entries. Renumber the labels "
            f"from 0, without gaps. {_FIX}")
    labels = torch.from_numpy(values - low)
    return torch.cat([one_hot(c) for c in labels.unbind(-1)], dim=-1)


def _features(tables: dict[str, Table], of: str, count: int):
    attrs = tables.get(f"{of}_attributes")
    labels = tables.get(f"{of}_labels")
    parts = [torch.from_numpy(attrs.values).float()] if attrs else []
    if labels and count:
        parts.append(_one_hot_columns(labels))
    sizes = {f"num_{of}_attributes": parts[0].size(1) if attrs else 0,
             f"num_{of}_labels": parts[-1].size(1) if labels and count else 0}
    return (torch.cat(parts, dim=-1) if parts else None), sizes


def _graphs(tables: dict[str, Table], batch: np.ndarray):
    edges = tables["A"]
    x, sizes = _features(tables, "node", len(batch))
    edge_attr, edge_sizes = _features(tables, "edge", len(edges.values))
    sizes.update(edge_sizes)
    if edge_attr is not None:
        _check_duplicates(edges)
    edge_index = torch.from_numpy(edges.values.T.copy() - 1).reshape(2, -1)
    edge_index, edge_attr = remove_self_loops(edge_index, edge_attr)
    edge_index, edge_attr = coalesce(edge_index, edge_attr, len(batch))
    _, y = torch.from_numpy(tables["graph_labels"].values[:, 0]).unique(
        sorted=True, return_inverse=True)
    node_graph = torch.from_numpy(batch)
    node_start = torch.cat([torch.zeros(1, dtype=torch.long),
                            torch.bincount(node_graph).cumsum(0)])
    edge_graph = node_graph[edge_index[0]]
    edge_start = torch.cat([torch.zeros(1, dtype=torch.long), torch.bincount(
        edge_graph, minlength=len(y)).cumsum(0)])
    graphs = []
    for g in range(len(y)):
        n0, n1 = int(node_start[g]), int(node_start[g + 1])
        e0, e1 = int(edge_start[g]), int(edge_start[g + 1])
        graph = Data(edge_index=edge_index[:, e0:e1] - n0, y=y[g:g + 1])
        if x is not None:
            graph.x = x[n0:n1]
        else:
            graph.num_nodes = n1 - n0
        if edge_attr is not None:
            graph.edge_attr = edge_attr[e0:e1]
        graphs.append(graph)
    return graphs, sizes


def _check_duplicates(edges: Table) -> None:
    """An edge listed twice would have its labels or attributes merged:
    refused."""
    _, first, counts = np.unique(edges.values, axis=0, return_index=True,
                                 return_counts=True)
    if (counts > 1).any():
        row = int(first[np.flatnonzero(counts > 1)[0]])
        twice = np.flatnonzero((edges.values == edges.values[row]).all(1))
        raise RawFileError(
            f"{edges.path}, lines {int(edges.lines[twice[0]])} and "
            f"{int(edges.lines[twice[1]])}, list the same edge "
            f"{tuple(int(v) for v in edges.values[row])}; with edge labels "
            "or attributes, each edge is listed once in each direction. "
            f"Remove one of the lines and its label line. {_FIX}")


def content_hash(raw_dir: str | os.PathLike, name: str) -> str:
    """A hash of the contents of the dataset's TU files (the kinds of
    :data:`KINDS` present): the key of its processed cache."""
    digest = hashlib.sha256()
    for kind in KINDS:
        path = raw_path(raw_dir, name, kind)
        if os.path.lexists(path):
            digest.update(f"{kind}\0".encode())
            digest.update(hashlib.sha256(_read_bytes(path)).digest())
    return digest.hexdigest()[:16]


#: The public names (the API reference lists these).
__all__ = ["read_tu", "read_table", "Table", "content_hash", "raw_path",
           "KINDS", "REQUIRED", "MAX_ONE_HOT"]
