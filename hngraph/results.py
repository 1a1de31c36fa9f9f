"""Result files: atomic JSON writes and the metadata every result records."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path

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


def git_commit() -> str:
    """Where the running hngraph comes from: the git commit of its source
    tree (with ``-dirty`` for uncommitted changes to tracked files other
    than result files, ``benchmarks/results``); for an installed copy, the
    commit of the working directory when that is an hngraph checkout (as
    after ``pip install .`` in it); else ``"hngraph <version>"``."""
    package = Path(__file__).resolve().parent
    for where in (package, Path.cwd()):
        top = _git(["rev-parse", "--show-toplevel"], where)
        if top is None or not (Path(top) / "hngraph" / "results.py").is_file():
            continue  # not a git checkout of hngraph
        head = _git(["rev-parse", "HEAD"], where)
        dirty = _git(["status", "--porcelain", "--untracked-files=no", "--",
                      ":/", ":!/benchmarks/results"], where)
        if head:
            return head + ("-dirty" if dirty else "")
    from . import __version__
    return f"hngraph {__version__}"


def _git(args: list[str], where: Path) -> str | None:
    """The output of ``git args`` in ``where``, or ``None``."""
    try:
        out = subprocess.run(["git", *args], cwd=where, capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


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
    (:func:`git_commit`), ``versions``, ``machine`` (:func:`machine_info`)
    and ``finished``, the time it was written (UTC)."""
    return {"commit": git_commit(), "versions": versions(),
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
