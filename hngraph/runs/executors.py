"""Where a grid's runs execute: processes on this machine, tasks on a Ray
cluster, or a SLURM job array through submitit (``docs/grids.md``).

An executor runs one task function over many tasks and hands back each
task's outcome as it finishes, as ``(key, get)``: ``get()`` returns the
task's value or raises its error. Tasks write nothing; the driver
(:func:`hngraph.runs.grid.run_grid`) writes every file, so the executors share
the grid's semantics (skip what is finished, isolate a failure, resume after
a kill, one driver per ``out`` folder) and Ray needs no shared file
system. :meth:`~Executor.cancel` stops what is queued and in flight.
"""
from __future__ import annotations

import multiprocessing
import os
import shutil
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ..config import check_declared, setting
from ..constraints import Interval, Nullable, OfType
from ..errors import HngraphError, describe

#: What ``hngraph grid run --stage`` runs: ``all`` trains, scores and
#: records each run; ``train`` trains and keeps each run's embeddings and
#: model (``.emb.npz``, ``.pt``); ``score`` scores and records the runs
#: trained so, and makes the selections.
STAGES = ("all", "train", "score")

#: Test-only switch: the submitit cluster the ``slurm`` executor uses
#: instead of SLURM (``local`` starts real processes on this machine).
TEST_CLUSTER = "HNGRAPH_SUBMITIT_CLUSTER"

Task = tuple[object, tuple]  # (key, arguments of the task function)


class ExecutorUnavailable(HngraphError, RuntimeError):
    """An executor that cannot run here (a missing extra, no ``sbatch``)."""


class TaskError(RuntimeError):
    """A task's error as text, from a process that could not send it whole
    (``traceback`` holds the worker's)."""

    def __init__(self, message: str, trace: str = ""):
        super().__init__(message)
        self.trace = trace


@dataclass(frozen=True, kw_only=True)
class ExecutorRequest:
    """What ``hngraph grid run`` asks of the executor ``--executor`` names
    (:data:`hngraph.registry.EXECUTORS`): ``threads`` CPUs and ``gpus``
    GPUs per task, the Ray ``address``, the ``folder`` for a cluster's own
    files, and the SLURM settings, read only when asked (``slurm()``)."""

    threads: int
    gpus: int
    address: str | None
    folder: Path
    slurm: Callable[[], SlurmSettings]


class Executor:
    """The interface of an executor. A new one is a subclass plus its
    entry in :data:`hngraph.registry.EXECUTORS`."""

    @classmethod
    def from_request(cls, request: ExecutorRequest) -> Executor | None:
        """The executor that ``hngraph grid run`` asks for."""
        raise NotImplementedError

    def results(self, fn: Callable, tasks: list[Task]
                ) -> Iterator[tuple[object, Callable[[], object]]]:
        """Run ``fn(*args)`` for every ``(key, args)`` of ``tasks``; yield
        ``(key, get)`` as each finishes."""
        raise NotImplementedError

    def cancel(self) -> None:
        """Stop every queued and running task (on Ctrl-C)."""

    def close(self) -> None:
        """Release what :meth:`results` started."""


class LocalExecutor(Executor):
    """``jobs`` processes on this machine (spawned, each ending with the
    driver). On CUDA, the workers take the visible GPUs in turn, worker
    ``i`` GPU ``i mod count``."""

    def __init__(self, *, jobs: int = 1, gpus: int = 0):
        self.jobs, self.gpus, self.pool = jobs, gpus, None

    @classmethod
    def from_request(cls, request: ExecutorRequest) -> None:
        """``None``: :func:`~hngraph.runs.grid.run_grid` builds its own,
        ``--jobs`` processes on the grid's device."""
        return None

    def results(self, fn, tasks):
        # spawn: a forked child cannot use CUDA once the parent has touched
        # it, and a fresh interpreter per worker shares nothing by accident
        context = multiprocessing.get_context("spawn")
        slots = context.Queue()
        for i in range(self.jobs):
            slots.put(i % self.gpus if self.gpus else None)
        self.pool = ProcessPoolExecutor(self.jobs, context,
                                        initializer=_start_worker,
                                        initargs=(slots,))
        futures = {self.pool.submit(fn, *args): key for key, args in tasks}
        for future in as_completed(futures):
            yield futures[future], future.result

    def cancel(self):
        # no queued task starts, and the tasks in flight end now (a worker
        # that caught the signal would otherwise take the next one)
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
        for worker in multiprocessing.active_children():
            worker.terminate()

    def close(self):
        if self.pool is not None:
            self.pool.shutdown()


#: The GPU of this worker process (:class:`LocalExecutor`), or ``None``.
WORKER_GPU: int | None = None


def _start_worker(slots) -> None:
    """A worker takes its GPU slot, ends with the driver, however it ends,
    and imports all the code it runs at once (the code
    :data:`~hngraph.results.SOURCE` names)."""
    global WORKER_GPU
    from ..distributed import die_with_parent
    from . import experiment  # noqa: F401

    WORKER_GPU = slots.get()
    die_with_parent()


class RayExecutor(Executor):
    """Every task a Ray task (Ray core, not Tune) on the cluster that
    ``ray.init(address)`` finds (``None``: a local Ray instance), asking for
    ``cpus`` CPUs and ``gpus`` GPUs. A task returns its value to the
    driver; no shared file system is needed."""

    def __init__(self, *, address: str | None = None, cpus: int = 1,
                 gpus: int = 0):
        self.ray = _extra("ray", "ray")
        _check_ray_address(address)
        self.address, self.cpus, self.gpus = address, cpus, gpus
        self.refs: dict = {}

    @classmethod
    def from_request(cls, request: ExecutorRequest) -> RayExecutor:
        return cls(address=request.address, cpus=request.threads,
                   gpus=request.gpus)

    def results(self, fn, tasks):
        if not tasks:  # nothing to run: no cluster to join or start
            return
        ray = self.ray
        if not ray.is_initialized():
            import logging
            ray.init(address=self.address, include_dashboard=False,
                     log_to_driver=False, logging_level=logging.WARNING)
        remote = ray.remote(num_cpus=self.cpus, num_gpus=self.gpus,
                            max_retries=0)(fn)
        self.refs = {remote.remote(*args): key for key, args in tasks}
        pending = list(self.refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield self.refs.pop(done[0]), partial(self._get, done[0])

    def _get(self, ref):
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as err:
            cause = err.cause
            raise cause if isinstance(cause, BaseException) else TaskError(
                describe(err)) from None

    def cancel(self):
        for ref in self.refs:
            self.ray.cancel(ref, force=True)

    def close(self):
        if self.ray.is_initialized() and self.address is None:
            self.ray.shutdown()


#: Seconds :class:`RayExecutor` waits for a cluster's address to answer.
RAY_CONNECT_TIMEOUT_S = 10


def _check_ray_address(address: str | None) -> None:
    """A Ray address as ``ray.init`` takes it: ``None`` or ``local`` (a Ray
    instance of this driver's own), ``auto`` (the cluster started on this
    machine), or ``[ray://]HOST:PORT``, which must answer within
    :data:`RAY_CONNECT_TIMEOUT_S` (Ray itself would retry for ever)."""
    import socket

    if address in (None, "local", "auto"):
        return
    host, _, port = str(address).removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ExecutorUnavailable(
            f"--address {address!r} is not a Ray address: give HOST:PORT "
            "(the head node's, from `ray start --head`), ray://HOST:PORT, or "
            "auto; leave it out for a Ray instance of this run's own.")
    try:
        socket.create_connection((host, int(port)),
                                 timeout=RAY_CONNECT_TIMEOUT_S).close()
    except OSError as err:
        raise ExecutorUnavailable(
            f"--address {address}: nothing answered there within "
            f"{RAY_CONNECT_TIMEOUT_S} s ({err.strerror or err}). Start the "
            "cluster (`ray start --head` on the head node) or fix the "
            "address; nothing ran.") from None


@dataclass(kw_only=True)
class SlurmSettings:
    """The ``slurm:`` section of a grid config (each also a flag of
    ``hngraph grid run``)."""

    partition: str = setting("", OfType(str), "SLURM partition (empty: the "
                             "cluster's default)")
    time_min: int = setting(120, Interval(int, 1), "time limit of one array "
                            "task, minutes")
    cpus_per_task: int | None = setting(None, Nullable(Interval(int, 1)),
                                        "CPUs of one array task (default: "
                                        "--threads)")
    gpus_per_task: int | None = setting(None, Nullable(Interval(int, 0)),
                                        "GPUs of one array task (default: 1 "
                                        "with --device cuda, else 0)")
    chunk: int = setting(4, Interval(int, 1), "runs per array task, run one "
                         "after the other")
    parallelism: int = setting(64, Interval(int, 1), "array tasks running "
                               "at once")
    source: str = "slurm"

    def __post_init__(self):
        check_declared(self, f"{self.source}.")


class SlurmExecutor(Executor):
    """The tasks as one SLURM job array through submitit, ``chunk`` tasks
    per array task; submitit's own files go to ``folder``, which must be on
    the cluster's shared file system. Where ``sbatch`` is missing, no
    controller answers ``scontrol ping``, or ``sbatch`` refuses the job
    array, it stops (:class:`ExecutorUnavailable`); it never falls back to
    another executor. The environment variable ``HNGRAPH_SUBMITIT_CLUSTER`` is a
    switch for tests only: it names the submitit cluster to use instead of
    SLURM (``local`` starts real processes on this machine)."""

    def __init__(self, folder: Path, settings: SlurmSettings, cpus: int,
                 gpus: int):
        self.submitit = _extra("submitit", "slurm")
        self.cluster = os.environ.get(TEST_CLUSTER) or None
        if self.cluster is None:
            _check_slurm()
        self.folder, self.settings = folder, settings
        self.cpus = settings.cpus_per_task or cpus
        self.gpus = gpus if settings.gpus_per_task is None \
            else settings.gpus_per_task
        self.jobs: dict = {}

    @classmethod
    def from_request(cls, request: ExecutorRequest) -> SlurmExecutor:
        return cls(request.folder, request.slurm(), request.threads,
                   request.gpus)

    def results(self, fn, tasks):
        s = self.settings
        chunks = [tasks[i:i + s.chunk] for i in range(0, len(tasks), s.chunk)]
        try:
            # "slurm" named, never guessed: submitit's guess falls back to
            # running the tasks on this machine when SLURM does not answer
            executor = self.submitit.AutoExecutor(
                folder=self.folder, cluster=self.cluster or "slurm")
            executor.update_parameters(
                name="hngraph-grid", timeout_min=s.time_min,
                cpus_per_task=self.cpus, gpus_per_node=self.gpus,
                slurm_array_parallelism=s.parallelism,
                **({"slurm_partition": s.partition} if s.partition else {}))
            jobs = executor.map_array(_run_chunk, [fn] * len(chunks),
                                      [[args for _, args in c]
                                       for c in chunks])
        except Exception as err:  # no working cluster behind sbatch
            raise ExecutorUnavailable(
                "--executor slurm could not submit the job array: "
                f"{describe(err)}. Check the cluster (sinfo, squeue) and "
                "the slurm settings, or use --executor local or ray; "
                "nothing ran.") from err
        self.jobs = dict(zip(jobs, chunks, strict=True))
        while self.jobs:
            for job in [j for j in self.jobs if j.done()]:
                chunk = self.jobs.pop(job)
                try:
                    outcomes = job.result()
                except Exception as err:  # the array task itself failed
                    outcomes = [(False, describe(err), "")
                                ] * len(chunk)
                for (key, _), outcome in zip(chunk, outcomes, strict=True):
                    yield key, partial(_unpack, outcome)
            time.sleep(0.5)

    def cancel(self):
        for job in self.jobs:
            job.cancel(check=False)


#: Seconds SLURM's controller has to answer ``scontrol ping``.
SLURM_PING_TIMEOUT_S = 10


def _check_slurm() -> None:
    """A working SLURM here, found before anything is submitted: ``sbatch``
    on PATH, and a controller that answers ``scontrol ping``."""
    import subprocess

    if shutil.which("sbatch") is None:
        raise ExecutorUnavailable(
            "--executor slurm needs SLURM's sbatch, which is not on "
            "PATH here; run the grid on the cluster's login node, or "
            "use --executor local or ray.")
    try:
        ping = subprocess.run(["scontrol", "ping"], capture_output=True,
                              text=True, timeout=SLURM_PING_TIMEOUT_S)
        up = ping.returncode == 0 and "UP" in ping.stdout
    except (OSError, subprocess.TimeoutExpired):
        up = False
    if not up:
        raise ExecutorUnavailable(
            "--executor slurm found sbatch, but no SLURM controller answered "
            f"`scontrol ping` within {SLURM_PING_TIMEOUT_S} s; check the "
            "cluster (sinfo, scontrol ping) or use --executor local or ray. "
            "Nothing was submitted.")


def _run_chunk(fn, chunk: list[tuple]) -> list[tuple]:
    """One array task: ``fn(*args)`` for each ``args`` of ``chunk``, in
    turn; a failure is recorded (as text) and the next one runs."""
    outcomes = []
    for args in chunk:
        try:
            outcomes.append((True, fn(*args)))
        except Exception as err:
            outcomes.append((False, describe(err),
                             "".join(traceback.format_exception(err))))
    return outcomes


def _unpack(outcome: tuple):
    if outcome[0]:
        return outcome[1]
    raise TaskError(*outcome[1:])


def _extra(module: str, extra: str):
    """The optional library ``module``, or a one-line error naming the pip
    command that installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ExecutorUnavailable(
            f"--executor {extra} needs {module}, which is not installed: "
            f'pip install "hngraph[{extra}]"') from None


#: The public names (the API reference lists these).
__all__ = ["Executor", "LocalExecutor", "RayExecutor", "SlurmExecutor",
           "SlurmSettings", "ExecutorUnavailable", "TaskError", "ExecutorRequest",
           "STAGES"]
