"""Result files: atomic JSON writes and the metadata every result records."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
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
    """The git commit of the source tree hngraph runs from (else of the
    working directory, for an installed copy), with ``-dirty`` for
    uncommitted changes to tracked files other than result files
    (``benchmarks/results``), or ``"unknown"``."""
    for where in (Path(__file__).resolve().parent, Path.cwd()):
        try:
            out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where,
                                 capture_output=True, text=True, timeout=10)
            if out.returncode != 0 or not out.stdout.strip():
                continue
            dirty = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no",
                 "--", ":/", ":!/benchmarks/results"],
                cwd=where, capture_output=True, text=True, timeout=10)
            return out.stdout.strip() + ("-dirty" if dirty.stdout.strip()
                                         else "")
        except (OSError, subprocess.SubprocessError):
            continue
    return "unknown"


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
