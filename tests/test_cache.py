"""The processed-data cache: concurrent first loads, killed builds,
unreadable files and edited raw files."""
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from hngraph.data import CacheError, load_tudataset


def _load(args):
    name, cache = args
    ds = load_tudataset(name, cache=cache)
    return len(ds), float(ds.x.sum()), int(ds.y.sum())


def test_concurrent_first_loads_build_once(data_root, tmp_path):
    # Six processes on an empty cache: none may read a half-written file.
    with mp.get_context("spawn").Pool(6) as pool:
        out = pool.map(_load, [("PROTEINS", str(tmp_path))] * 6)
    assert len(set(out)) == 1 and out[0][0] == 1113
    built = list((tmp_path / "TUDataset" / "PROTEINS").glob("processed_*"))
    assert len(built) == 1
    assert not list(tmp_path.rglob("*.building-*"))


def test_killed_build_leaves_a_cache_that_works(data_root, tmp_path):
    code = ("import sys; from hngraph.data import load_tudataset; "
            "load_tudataset('NCI1', cache=sys.argv[1])")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)])
    time.sleep(3.0)  # mid-import or mid-processing: either must be safe
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    ds = load_tudataset("NCI1", cache=tmp_path)
    assert len(ds) == 4110
    assert not list(tmp_path.rglob("*.building-*"))


@pytest.mark.parametrize("content", [b"", b"garbage", None])
def test_unreadable_cache_is_rebuilt_with_a_warning(data_root, tmp_path,
                                                    content):
    first = load_tudataset("MUTAG", cache=tmp_path)
    (path,) = (tmp_path / "TUDataset" / "MUTAG").glob("processed_*/data.pt")
    if content is None:  # truncated half-way
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path.write_bytes(content)
    with pytest.warns(UserWarning, match="could not be read.*rebuilding") \
            as record:
        again = load_tudataset("MUTAG", cache=tmp_path)
    assert str(path.parent) in str(record[0].message)
    assert "\n" not in str(record[0].message)
    assert torch.equal(first.x, again.x) and torch.equal(first.y, again.y)


def test_edited_raw_file_gets_a_new_cache(data_root, tmp_path):
    raw = tmp_path / "data" / "MUTAG" / "raw"
    shutil.copytree(data_root / "MUTAG" / "raw", raw)
    before = load_tudataset("MUTAG", root=tmp_path / "data",
                            cache=tmp_path / "cache")
    labels = raw / "MUTAG_graph_labels.txt"
    flipped = [str(-int(v)) for v in labels.read_text().split()]
    labels.write_text("\n".join(flipped) + "\n")
    after = load_tudataset("MUTAG", root=tmp_path / "data",
                           cache=tmp_path / "cache")
    # Labels -1/1 are encoded 0/1: flipping them swaps the classes.
    assert torch.equal(after.y, 1 - before.y)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_cache_is_a_clear_error(data_root, tmp_path):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(CacheError, match="HNGRAPH_CACHE"):
            load_tudataset("MUTAG", cache=tmp_path / "c")
    finally:
        tmp_path.chmod(0o700)


def test_cache_that_is_a_file_is_a_clear_error(data_root, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(CacheError, match="cannot be written.*HNGRAPH_CACHE"):
        load_tudataset("MUTAG", cache=tmp_path / "file")
