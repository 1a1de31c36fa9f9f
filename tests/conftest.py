import os
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def pytest_configure(config):
    # Subprocesses run in other folders: make a relative HNGRAPH_DATA absolute.
    if os.environ.get("HNGRAPH_DATA"):
        os.environ["HNGRAPH_DATA"] = str(Path(os.environ["HNGRAPH_DATA"]).resolve())
    # Keep processed caches out of the user's home and out of the data folder.
    if "HNGRAPH_CACHE" not in os.environ:
        cache = Path(config.rootpath) / ".pytest_cache" / "hngraph"
        os.environ["HNGRAPH_CACHE"] = str(cache)


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The shared raw TU files, through $HNGRAPH_DATA."""
    root = os.environ.get("HNGRAPH_DATA")
    if not root or not (Path(root) / "MUTAG" / "raw").is_dir():
        pytest.skip("set HNGRAPH_DATA to the folder holding MUTAG/raw/ "
                    "(for example ../shared/data/TUDataset)")
    return Path(root)



@pytest.fixture
def run_cli(capsys, monkeypatch):
    """``hngraph ARGS`` in this process (through ``main(argv)``), in the
    folder ``cwd``: returns its exit status, stdout and stderr."""
    from hngraph.cli import main

    def run(*args, cwd="."):
        monkeypatch.chdir(cwd)
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out.out,
                               stderr=out.err)
    return run
