"""Result files: atomic JSON writes and the metadata every result records."""
from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

import torch


def _atomic(path: str | os.PathLike, write) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename
    it to ``path``: a reader never sees a partial file, and a crash leaves at
    most a hidden ``.<name>.*.tmp`` file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                               suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private (0600)
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_json(path: str | os.PathLike, obj) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically (see :func:`_atomic`)."""
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
    return _atomic(path, write)


def atomic_torch_save(obj, path: str | os.PathLike) -> Path:
    """``torch.save`` to ``path`` atomically (see :func:`_atomic`)."""
    return _atomic(path, lambda tmp: torch.save(obj, tmp))


class Source(NamedTuple):
    """Which hngraph code a process runs: ``commit``, the full commit id of
    its git checkout (``"hngraph <version>"`` outside one), and ``diff``,
    the SHA-256 of its uncommitted changes to tracked files other than the
    result files (``git diff HEAD``, ``benchmarks/results`` left out), or
    ``None`` when there are none."""

    commit: str
    diff: str | None = None

    @property
    def label(self) -> str:
        """The commit, with ``-dirty`` when there are uncommitted changes."""
        return self.commit + ("-dirty" if self.diff else "")

    @property
    def clean(self) -> bool:
        """Whether this is a commit that can be checked out and rebuilt."""
        return self.diff is None and re.fullmatch(r"[0-9a-f]{40}",
                                                  self.commit) is not None


def read_source() -> Source:
    """The :class:`Source` of the hngraph package on disk now: the git
    checkout that holds it or, for an installed copy, the working directory
    when that is an hngraph checkout (as after ``pip install .`` in it)."""
    package = Path(__file__).resolve().parent
    for where in (package, Path.cwd()):
        top = _git(["rev-parse", "--show-toplevel"], where)
        if top is None or not (Path(top) / "hngraph" / "results.py").is_file():
            continue  # not a git checkout of hngraph
        head = _git(["rev-parse", "HEAD"], where)
        diff = _git(["diff", "HEAD", "--binary", "--", ":/",
                     ":!/benchmarks/results"], where)
        if head:
            return Source(head, hashlib.sha256(diff.encode()).hexdigest()
                          if diff else None)
    from . import __version__
    return Source(f"hngraph {__version__}")


def _git(args: list[str], where: Path) -> str | None:
    """The output of ``git args`` in ``where``, or ``None``."""
    try:
        out = subprocess.run(["git", *args], cwd=where, capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


SOURCE = read_source()
"""The code this process imported (a :class:`Source`), read once when
hngraph is imported: a commit made, or a file edited, later does not change
what it records."""


def git_commit() -> str:
    """The commit of the code this process imported (:data:`SOURCE`), with
    ``-dirty`` for uncommitted changes."""
    return SOURCE.label


def versions() -> dict:
    """The versions of hngraph and of the libraries a result depends on."""
    from importlib.metadata import PackageNotFoundError, version

    from . import __version__
    out = {"hngraph": __version__}
    for name in ("torch", "torch_geometric", "scikit-learn", "numpy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def provenance(device: str | torch.device = "cpu") -> dict:
    """What every result file records of where it comes from: ``commit``
    (:func:`git_commit`), ``source_diff`` (the hash of the uncommitted
    changes, :class:`Source`), ``versions``, ``machine``
    (:func:`machine_info`) and ``finished``, the time it was written
    (UTC)."""
    return {"commit": git_commit(), "source_diff": SOURCE.diff,
            "versions": versions(),
            "machine": machine_info(device),
            "finished": datetime.now(timezone.utc).isoformat(
                timespec="seconds")}


def machine_info(device: str | torch.device = "cpu") -> dict:
    """Where a result was produced."""
    info = {"host": platform.node(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch_threads":
            torch.get_num_threads(), "python": platform.python_version(),
            "torch": torch.__version__, "device": str(device)}
    if torch.device(device).type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


#: The public names (the API reference lists these).
__all__ = ["provenance", "Source", "SOURCE", "read_source",
           "git_commit", "atomic_write_json", "atomic_torch_save",
           "machine_info", "versions"]
