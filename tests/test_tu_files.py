"""The raw TU file reader: identical to PyG's reader on the real datasets,
and fuzzed with mutations of small datasets: each mutation either loads
as an independent parse says it should, or is refused with the package's
error naming the file (and, for a line's content, the line).

``HNGRAPH_FUZZ_EXAMPLES`` sets the examples per family (CI: 40); with
``pytest -s``, each family prints its outcomes."""
import os
import shutil
import signal
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import pyg_tu_graphs

from hngraph.data.tu_files import KINDS, raw_path, read_tu
from hngraph.data.tudataset import load_tudataset
from hngraph.errors import RawFileError

EXAMPLES = int(os.environ.get("HNGRAPH_FUZZ_EXAMPLES", "40"))
FAMILIES = {  # name: (source dataset, kinds kept)
    "labelled": ("MUTAG", ("A", "graph_indicator", "graph_labels",
                           "node_labels", "edge_labels")),
    "degree": ("MUTAG", ("A", "graph_indicator", "graph_labels")),
    "attributed": ("ENZYMES", ("A", "graph_indicator", "graph_labels",
                               "node_labels", "node_attributes")),
}


def same_graphs(ours, theirs) -> bool:
    if len(ours) != len(theirs):
        return False
    for a, b in zip(ours, theirs, strict=True):
        for key in ("x", "edge_index", "edge_attr", "y"):
            u, v = getattr(a, key, None), getattr(b, key, None)
            if (u is None) != (v is None) or (u is not None and (
                    u.dtype != v.dtype or not torch.equal(u, v))):
                return False
        if a.num_nodes != b.num_nodes:
            return False
    return True


@pytest.mark.parametrize("name", ["MUTAG", "PTC_MR", "ENZYMES",
                                  "IMDB-BINARY"])
def test_reader_matches_pyg_on_real_datasets(data_root, name):
    raw = data_root / name / "raw"
    if not raw.is_dir():
        pytest.skip(f"{name} is not under HNGRAPH_DATA")
    graphs, sizes = read_tu(raw, name)
    reference, reference_sizes = pyg_tu_graphs(raw, name)
    assert sizes == reference_sizes
    assert same_graphs(graphs, reference)


def subset(data_root: Path, family: str, folder: Path, graphs=12) -> Path:
    """The first ``graphs`` graphs of a family's dataset, its kinds only,
    as ``folder/NAME/raw``."""
    name, kinds = FAMILIES[family]
    source = data_root / name / "raw"
    lines = {k: raw_path(source, name, k).read_text().splitlines()
             for k in kinds}
    indicator = [int(v) for v in lines["graph_indicator"]]
    nodes = sum(1 for g in indicator if g <= graphs)
    keep = [i for i, line in enumerate(lines["A"])
            if int(line.split(",")[0]) <= nodes]
    cut = {"node": list(range(nodes)), "edge": keep,
           "graph": list(range(graphs))}
    raw = folder / name / "raw"
    raw.mkdir(parents=True)
    for kind in kinds:
        rows = [lines[kind][i] for i in cut[KINDS[kind][2]]]
        raw_path(raw, name, kind).write_text("\n".join(rows) + "\n")
    return raw


@contextmanager
def time_limit(seconds: int):
    def stop(*_):
        raise TimeoutError(f"an example ran past {seconds} s")
    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


TOKENS = ["1", "2", "-1", "0", "3000", "100000000", "1.5", "2.0", "1e0", "x", "", " ",
          ",", ", ", ";", "\t", "\u00e9", "\u0663", "99999999999999999999",
          "nan", "inf", "+4", "1_0", "\x00"]
CONTENT = ["insert", "delete", "duplicate", "edit", "separator",
           "line endings", "final newline", "bom", "utf-16", "latin-1",
           "cut", "empty", "swap"]
PATHS = ["folder", "dangling link", "link", "pipe"]


def mutate(draw, raw: Path, name: str) -> tuple[str, str]:
    """Apply one drawn mutation; return (operation, file kind)."""
    kinds = sorted(p.name[len(name) + 1:-4] for p in raw.iterdir())
    kind = draw(st.sampled_from(kinds))
    path = raw_path(raw, name, kind)
    op = draw(st.sampled_from(CONTENT + PATHS))
    data = path.read_bytes()
    lines = data.decode().splitlines()
    at = draw(st.integers(0, max(len(lines) - 1, 0)))
    text = "".join(draw(st.lists(st.sampled_from(TOKENS), max_size=4)))
    if op == "insert":
        lines.insert(at, text)
    elif op == "delete":
        del lines[at]
    elif op == "duplicate":
        lines.insert(at, lines[at])
    elif op == "edit":
        lines[at] = text
    elif op == "separator":
        sep = draw(st.sampled_from([";", " ", "\t", ",,", "", ", "]))
        lines[at] = lines[at].replace(",", sep)
    if op in ("insert", "delete", "duplicate", "edit", "separator"):
        data = ("\n".join(lines) + "\n").encode("utf-8")
    elif op == "line endings":
        data = data.replace(b"\n", draw(st.sampled_from([b"\r\n", b"\r"])))
    elif op == "final newline":
        data = data.rstrip(b"\n") if data.endswith(b"\n") else data + b"\n"
    elif op == "bom":
        data = b"\xef\xbb\xbf" + data
    elif op == "utf-16":
        data = data.decode().encode("utf-16")
    elif op == "latin-1":
        data = data[:at] + b"\xe9" + data[at:]
    elif op == "cut":
        data = data[:draw(st.integers(0, len(data)))]
    elif op == "empty":
        data = b""
    elif op == "swap":
        other = raw_path(raw, name, draw(st.sampled_from(kinds)))
        data, other_data = other.read_bytes(), data
        other.write_bytes(other_data)
    if op in CONTENT:
        path.write_bytes(data)
        return op, kind
    path.unlink()
    if op == "folder":
        path.mkdir()
    elif op == "dangling link":
        path.symlink_to(raw / "nowhere.txt")
    elif op == "link":
        (raw.parent / path.name).write_bytes(data)
        path.symlink_to(raw.parent / path.name)
    else:
        os.mkfifo(path)
    return op, kind


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_fuzzed_raw_files_load_as_parsed_or_are_refused(data_root, tmp_path,
                                                         family):
    name = FAMILIES[family][0]
    if not (data_root / name / "raw").is_dir():
        pytest.skip(f"{name} is not under HNGRAPH_DATA")
    original = subset(data_root, family, tmp_path / "original")
    expected, _ = read_tu(original, name)
    runs, outcomes = iter(range(10 ** 9)), Counter()

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              print_blob=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.data())
    def check(data):
        raw = tmp_path / f"run{next(runs)}" / name / "raw"
        shutil.copytree(original, raw)
        op, kind = mutate(data.draw, raw, name)
        with time_limit(20):
            try:
                graphs, _ = read_tu(raw, name)
            except RawFileError as err:
                message = str(err)
                assert str(raw) in message, message
                if op in ("edit", "separator", "insert", "latin-1",
                          "utf-16") and "line" not in message:
                    assert "lines, but" in message or "empty" in message, \
                        message
                outcomes["refused, naming the file"] += 1
                return
        if same_graphs(graphs, expected):
            outcomes["loads identically"] += 1
            return
        try:  # a valid edit: the graphs an independent parse finds
            reference, _ = pyg_tu_graphs(raw, name)
        except Exception:
            reference = None
        assert reference is not None and same_graphs(graphs, reference), \
            f"{op} on {kind} loaded graphs that no independent parse gives"
        outcomes["a valid edit, loaded as PyG's reader parses it"] += 1

    check()
    print(f"\n{family}: {sum(outcomes.values())} examples, {dict(outcomes)}")


def test_edited_raw_file_gets_a_new_cache(data_root, tmp_path):
    # Same size and modification time, other labels: the cache is keyed by
    # the contents, so the new labels are used.
    raw = subset(data_root, "labelled", tmp_path / "data")
    path = raw_path(raw, "MUTAG", "graph_labels")
    before = load_tudataset("MUTAG", root=tmp_path / "data",
                            cache=tmp_path / "cache").y.clone()
    stat = path.stat()
    labels = path.read_text().split()
    i, j = labels.index("1"), labels.index("-1")
    labels[i], labels[j] = labels[j], labels[i]
    path.write_text("\n".join(labels) + "\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size
    after = load_tudataset("MUTAG", root=tmp_path / "data",
                           cache=tmp_path / "cache").y
    swapped = before.clone()
    swapped[[i, j]] = before[[j, i]]
    assert torch.equal(after, swapped) and not torch.equal(after, before)


def test_labels_too_wide_to_one_hot_are_refused(data_root, tmp_path,
                                                monkeypatch):
    # A node label of 10^6 among 0..6 would one-hot encode into 10^6
    # columns no node uses (it was a MemoryError of terabytes): the file,
    # the line, the gap and the fix are named instead.
    from hngraph.data import tu_files
    raw = subset(data_root, "labelled", tmp_path / "data")
    path = raw_path(raw, "MUTAG", "node_labels")
    lines = path.read_text().splitlines()
    for value in (10 ** 6, 150):
        lines[3] = str(value)
        path.write_text("\n".join(lines) + "\n")
        with pytest.raises(RawFileError, match=(
                rf"MUTAG_node_labels.txt, line 4: label {value} is far "
                r"beyond the others \(none between 3 and it.*Renumber")):
            load_tudataset("MUTAG", root=tmp_path / "data",
                           cache=tmp_path / "c")
    lines[3] = "103"  # a gap of 100 from 3: allowed, past a smaller budget
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(tu_files, "MAX_ONE_HOT", 1000)
    with pytest.raises(RawFileError, match=r"MUTAG_node_labels.txt holds "
                       r"labels from \[0\] to \[103\].*Renumber"):
        load_tudataset("MUTAG", root=tmp_path / "data", cache=tmp_path / "c")
