"""Result files: their names, their one reader, atomic writes, and the
metadata every result records."""
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

from .errors import HngraphError, PathError


def _atomic(path: str | os.PathLike, write) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename
    it to ``path``: a reader never sees a partial file, and a crash leaves at
    most a hidden ``.<name>.*.tmp`` file. A file system error is a
    ``hngraph.errors.PathError`` naming ``path``."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                   suffix=".tmp")
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private (0600)
        write(tmp)
        os.replace(tmp, path)
    except BaseException as err:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(err, OSError) and not isinstance(err, HngraphError):
            raise PathError(
                f"{path} cannot be written ({err.strerror or err}); check "
                "that its folder is a folder you can write to, with room on "
                "its disk, or give another path.") from err
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`_atomic`)."""
    return _atomic(path, lambda tmp: Path(tmp).write_text(text))


def atomic_write_npy(path: str | os.PathLike, array) -> Path:
    """``numpy.save`` of ``array`` to ``path`` atomically (see
    :func:`_atomic`)."""
    import numpy as np

    def write(tmp):
        with open(tmp, "wb") as f:
            np.save(f, array)
    return _atomic(path, write)


def atomic_write_json(path: str | os.PathLike, obj) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically (see :func:`_atomic`)."""
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
    return _atomic(path, write)


def atomic_write_npz(path: str | os.PathLike, **arrays) -> Path:
    """``numpy.savez_compressed`` of ``arrays`` to ``path`` atomically (see
    :func:`_atomic`)."""
    import numpy as np

    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
    return _atomic(path, write)


def atomic_torch_save(obj, path: str | os.PathLike) -> Path:
    """``torch.save`` to ``path`` atomically (see :func:`_atomic`)."""
    return _atomic(path, lambda tmp: torch.save(obj, tmp))


class RunFiles(NamedTuple):
    """The files of one run, all named from one ``stem`` (a path without
    suffix): ``hngraph train`` names its runs ``<out>/<run_stem>``, a grid
    ``<out>/<DATASET>/<cell>_seed<k>``."""

    stem: Path

    def _named(self, suffix: str) -> Path:
        return self.stem.with_name(self.stem.name + suffix)

    @property
    def result(self) -> Path:
        """The result file (JSON, :func:`read_result`)."""
        return self._named(".json")

    @property
    def model(self) -> Path:
        """The trained model (``model.save``)."""
        return self._named(".pt")

    @property
    def trained(self) -> Path:
        """The train stage's output, all the score stage needs: the graph
        embeddings, their labels and the training record
        (:class:`hngraph.runs.experiment.Trained`)."""
        return self._named(".emb.npz")

    @property
    def training_state(self) -> Path:
        """The state a killed training resumes from (``fit``'s
        checkpoint)."""
        return self._named(".train.pt")

    @property
    def failure(self) -> Path:
        """What went wrong in a failed run (removed when it succeeds)."""
        return self._named(".failed")


def run_files(folder: str | os.PathLike, name: str) -> RunFiles:
    """The files of the run ``name`` in ``folder`` (:class:`RunFiles`)."""
    return RunFiles(Path(folder) / name)


class ResultFileError(HngraphError, ValueError):
    """A result file that breaks its contract (:func:`read_result`).
    ``readable`` is false for a file that is no result file at all (not
    JSON, or without accuracies), which a report skips and names; a result
    file with an impossible value stops it."""

    def __init__(self, path, why: str, readable: bool = True):
        super().__init__(f"{path}: {why}")
        self.path, self.why, self.readable = Path(path), why, readable


def read_result(path: str | os.PathLike) -> dict:
    """The one reader of a result file, checked against its contract
    (``docs/contracts.md``): a JSON object with ``accuracy_mean``; ``seed``
    an integer, the ``k`` of a name ``..._seed<k>.json``; the accuracies
    (``accuracy_mean``, ``first_split_mean``, ``repeat_means``,
    ``fold_accuracies``) fractions in [0, 1]. Raises
    :class:`ResultFileError` (``FileNotFoundError`` when there is no
    file)."""
    path = Path(path)
    try:
        result = json.loads(path.read_text())
    except ValueError as err:
        raise ResultFileError(path, f"not readable JSON ({type(err).__name__})",
                              readable=False) from err
    if not isinstance(result, dict) or "accuracy_mean" not in result:
        raise ResultFileError(path, "not a result file (a JSON object with "
                              "accuracy_mean)", readable=False)
    named = re.fullmatch(r".*_seed(\d+)", path.stem)
    seed = result.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool) or (
            named and str(seed) != named[1]):
        expected = f"the integer {named[1]} of the file's name" if named \
            else "an integer"
        raise ResultFileError(path, f"seed must be {expected}, got "
                              f"{seed!r}; rerun the run or restore the file.")
    for key in ("accuracy_mean", "first_split_mean"):
        if not _fraction(value := result.get(key, 0.0)):
            raise ResultFileError(path, f"{key} must be a fraction in [0, 1],"
                                  f" got {value!r}; rerun the run or restore"
                                  " the file.")
    for key in ("repeat_means", "fold_accuracies"):
        values = result.get(key, [])
        if not isinstance(values, list) or not all(map(_fraction, values)):
            raise ResultFileError(path, f"{key} must hold fractions in "
                                  f"[0, 1], got {values!r}.")
    return result


#: The fields of a result file that differ between two runs of the same
#: work: when, where, and how long it took.
RUN_VARYING = frozenset({"finished", "machine", "wall_time_s", "train_time_s",
                         "svm_time_s", "cells_finished", "scored_on"})


def comparable_results(out: str | os.PathLike) -> dict[str, dict]:
    """Every result file under ``out`` (``*_seed<k>.json``), keyed by its
    path relative to ``out``, less :data:`RUN_VARYING` and the config's
    ``out``: what two runs of the same grid (on other executors, or
    resumed) must agree on, field for field."""
    out = Path(out)
    found = {}
    for path in sorted(out.rglob("*_seed*.json")):
        result = {k: v for k, v in read_result(path).items()
                  if k not in RUN_VARYING}
        result["config"] = {k: v for k, v in result["config"].items()
                            if k != "out"}
        found[str(path.relative_to(out))] = result
    return found


def _fraction(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and 0.0 <= value <= 1.0


class Source(NamedTuple):
    """Which hngraph code a process runs: ``commit``, the full commit id of
    its git checkout (``"hngraph <version>"`` for an installed release,
    outside any checkout); ``diff``, the SHA-256 of a checkout's uncommitted
    changes to tracked files other than the result files (``git diff
    HEAD``, ``benchmarks/results`` left out), or ``None`` when there are
    none; and ``files``, for an installed release, the SHA-256 of its
    installed files (:func:`installed_files_hash`)."""

    commit: str
    diff: str | None = None
    files: str | None = None

    @property
    def label(self) -> str:
        """The commit, with ``-dirty`` when there are uncommitted changes."""
        return self.commit + ("-dirty" if self.diff else "")

    @property
    def clean(self) -> bool:
        """Whether the code can be had again exactly: a commit without
        uncommitted changes, or an installed release whose files' hash is
        recorded (the same version, installed again, gives the same hash;
        an edited installed file does not)."""
        if self.diff is not None:
            return False
        if re.fullmatch(r"[0-9a-f]{40}", self.commit):
            return True
        return RELEASE.fullmatch(self.commit) is not None and \
            self.files is not None

    @property
    def why_not_clean(self) -> str:
        """Why :attr:`clean` is false, in words."""
        if self.diff is not None:
            return "results from a commit with uncommitted changes"
        if RELEASE.fullmatch(self.commit):
            return ("results from an installed hngraph that recorded no "
                    "hash of its files")
        return f"results of no known commit ({self.commit or 'none'})"


#: The ``commit`` an installed release records.
RELEASE = re.compile(r"hngraph \S+")


def installed_files_hash(package: Path | None = None) -> str:
    """The SHA-256 of an installed hngraph's files: every ``.py`` file of
    the package, by its path inside the package and its bytes, in sorted
    order (compiled caches left out)."""
    package = package or Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


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
    return Source(f"hngraph {__version__}", files=installed_files_hash())


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
    changes, :class:`Source`), ``source_files`` (an installed release's
    files' hash), ``versions``, ``machine``
    (:func:`machine_info`) and ``finished``, the time it was written
    (UTC)."""
    return {"commit": git_commit(), "source_diff": SOURCE.diff,
            "source_files": SOURCE.files,
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
__all__ = ["RunFiles", "run_files", "read_result", "ResultFileError",
           "comparable_results", "RUN_VARYING",
           "provenance", "Source", "SOURCE", "read_source",
           "git_commit", "atomic_write_json", "atomic_write_npz",
           "atomic_write_npy", "atomic_write_text", "atomic_torch_save",
           "machine_info", "versions"]
