"""The grid on every executor (local processes, Ray, submitit) and in
stages: the same result files as a local run, field for field apart from
timings, machines and timestamps; a failing cell isolated; a killed driver
resumed without redoing a finished run."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from hngraph.results import comparable_results
from hngraph.runs.executors import TEST_CLUSTER, SlurmExecutor, SlurmSettings
from hngraph.runs.grid import GridConfig

# A tiny grid: 1 dataset, 3 cells including a selection, 2 seeds, 1 epoch,
# and a cell that fails on every seed (200 folds).
TINY = {"epochs": 1, "batch_size": 64, "hidden": 8, "layers": 2,
        "seeds": [0, 1], "datasets": ["MUTAG"],
        "cells": {"infograph": {"beta": 0, "tau_plus": 0},
                  "paper-b1": {"beta": 1, "tau_plus": 0.5},
                  "broken": {"beta": 0, "tau_plus": 0, "folds": 200}},
        "selections": {"pick": ["infograph", "paper-b1"]},
        "slurm": {"chunk": 2}}
GOOD = 6  # result files: 2 seeds x (2 cells + 1 selection)

def tiny_grid(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**TINY, "out": str(tmp_path / name)}))
    return path


def driver(config: Path, *flags, env=None, **kw):
    """``hngraph grid run`` in a process of its own (the executor starts
    its workers, instances or jobs from there)."""
    cmd = [sys.executable, "-m", "hngraph.cli", "grid", "run", str(config),
           "--threads", "1", "--device", "cpu", "--allow-dirty", *flags]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            start_new_session=True,
                            env={**os.environ, **(env or {})}, **kw)


@pytest.fixture(scope="module")
def local(data_root, tmp_path_factory):
    """The tiny grid run the usual way (the broken cell fails alone): its
    result files."""
    tmp = tmp_path_factory.mktemp("local")
    proc = driver(tiny_grid(tmp, "out"), "--jobs", "2")
    printed = proc.communicate(timeout=900)[0]
    assert proc.returncode == 1, printed
    check_failures(tmp / "out", printed)
    found = comparable_results(tmp / "out")
    assert len(found) == GOOD, printed
    return found


def check_failures(out: Path, printed: str) -> None:
    """The broken cell failed alone, recorded beside its missing results."""
    failed = sorted(p.name for p in out.rglob("*.failed"))
    assert failed == ["broken_seed0.failed", "broken_seed1.failed"], printed
    error = json.loads(next(out.rglob("*.failed")).read_text())["error"]
    # hngraph's own error, told by its message alone, as the CLI tells it
    assert "folds" in error and not error.startswith(("InvalidValueError",
                                                      "internal error"))
    assert "2 run(s) failed" in printed and "a bug" not in printed


def killed_then_resumed(tmp_path, name, *flags, env=None) -> str:
    """Kill the driver once a result file exists; rerun it to the end;
    check no finished file was written again. Returns the last output."""
    config = tiny_grid(tmp_path, name)
    out = tmp_path / name
    proc = driver(config, *flags, env=env)
    deadline = time.time() + 900  # a loaded machine is slow, not wrong
    while time.time() < deadline and proc.poll() is None and len(
            list(out.rglob("*_seed*.json"))) < 1:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    printed = proc.communicate()[0]
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*_seed*.json")}
    assert 1 <= len(before) < GOOD, printed[-3000:]
    proc = driver(config, *flags, env=env)
    printed = proc.communicate(timeout=900)[0]
    assert proc.returncode == 1, printed[-3000:]
    assert f"{len(before)} finished (skipped)" in printed
    for path, stamp in before.items():
        assert path.stat().st_mtime_ns == stamp, path
    return printed


@pytest.mark.slow
def test_ray_executor_writes_the_local_files_and_resumes(local, tmp_path):
    pytest.importorskip("ray")
    printed = killed_then_resumed(tmp_path, "ray", "--executor", "ray")
    check_failures(tmp_path / "ray", printed)
    assert comparable_results(tmp_path / "ray") == local


@pytest.mark.slow
def test_slurm_executor_writes_the_local_files_and_resumes(local, tmp_path):
    pytest.importorskip("submitit")
    printed = killed_then_resumed(tmp_path, "slurm", "--executor", "slurm",
                                  env={TEST_CLUSTER: "local"})
    check_failures(tmp_path / "slurm", printed)
    assert comparable_results(tmp_path / "slurm") == local
    # chunks of 2 runs per array task: 3 tasks for the 6 trained runs, then
    # the resumed and the selections' tasks (one run a task would be >= 7)
    tasks = len(list((tmp_path / "slurm" / ".submitit").glob(
        "*_submitted.pkl")))
    assert 3 <= tasks <= 6, tasks


@pytest.mark.slow
def test_train_stage_then_score_stage_is_a_whole_run(local, tmp_path):
    config = tiny_grid(tmp_path, "staged")
    out = tmp_path / "staged"
    train = driver(config, "--stage", "train", "--jobs", "2")
    printed = train.communicate(timeout=900)[0]
    assert train.returncode == 1, printed  # the broken cell
    assert not list(out.rglob("*_seed*.json")), printed
    assert len(list(out.rglob("*.emb.npz"))) == 4
    assert len(list(out.rglob("*_seed?.pt"))) == 4
    score = driver(config, "--stage", "score", "--jobs", "2")
    printed = score.communicate(timeout=900)[0]
    assert "2 run(s) not trained yet" in printed
    assert comparable_results(out) == local


def test_a_corrupt_train_stage_output_is_named_and_the_rest_scored(
        data_root, tmp_path):
    import numpy as np

    config = tmp_path / "c.yaml"
    out = tmp_path / "out"
    config.write_text(yaml.safe_dump({
        **{k: TINY[k] for k in ("epochs", "batch_size", "hidden", "layers",
                                "seeds", "datasets")},
        "cells": {"infograph": {"beta": 0, "tau_plus": 0}},
        "out": str(out)}))
    train = driver(config, "--stage", "train")
    printed = train.communicate(timeout=600)[0]
    assert train.returncode == 0, printed
    broken = out / "MUTAG" / "infograph_seed0.emb.npz"
    with np.load(broken) as f:  # its record stays readable, its arrays go
        record = f["record"]
    np.savez(broken, record=record)
    score = driver(config, "--stage", "score")
    printed = score.communicate(timeout=600)[0]
    assert score.returncode == 1, printed
    assert f"{broken}: not a train stage's output" in printed
    assert "train the run again (`--stage train`)" in printed
    assert (out / "MUTAG" / "infograph_seed0.failed").exists()
    assert (out / "MUTAG" / "infograph_seed1.json").exists()


def test_a_ray_address_is_checked_and_ray_starts_only_for_work(tmp_path,
                                                             run_cli):
    import socket

    from hngraph.runs.executors import (
        ExecutorUnavailable,
        RayExecutor,
        _check_ray_address,
    )

    with pytest.raises(ExecutorUnavailable, match="not a Ray address: give "
                       "HOST:PORT"):
        _check_ray_address("head-node")
    closed = socket.socket()  # a port that nothing listens on
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(ExecutorUnavailable, match=f"--address ray://127.0.0.1:"
                       f"{port}: nothing answered there"):
        _check_ray_address(f"ray://127.0.0.1:{port}")
    for fine in (None, "local", "auto"):
        _check_ray_address(fine)
    ray = pytest.importorskip("ray")
    done = run_cli("grid", "run", tiny_grid(tmp_path, "x"), "--executor",
                   "ray", "--address", f"127.0.0.1:{port}", "--allow-dirty")
    assert done.returncode == 2, done.stderr
    assert "nothing answered there" in done.stderr
    assert not (tmp_path / "x" / "MUTAG").exists()  # nothing ran
    assert list(RayExecutor().results(print, [])) == []
    assert not ray.is_initialized()


def _processes_naming(text: str) -> list[int]:
    """The processes whose command line holds ``text``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:  # ended meanwhile
            pass
    return found


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")
def test_sigterm_of_a_slurm_driver_cancels_its_array(data_root, tmp_path):
    pytest.importorskip("submitit")
    config = tmp_path / "long.yaml"
    config.write_text(yaml.safe_dump({**TINY, "epochs": 200, "seeds": [0],
                                      "out": str(tmp_path / "long")}))
    proc = driver(config, "--executor", "slurm",
                  env={TEST_CLUSTER: "local"})
    submitted = tmp_path / "long" / ".submitit"
    deadline = time.time() + 300
    while time.time() < deadline and not _processes_naming(str(submitted)):
        time.sleep(0.2)
    assert _processes_naming(str(submitted)), "no array task started"
    time.sleep(2)
    proc.send_signal(signal.SIGTERM)  # the driver alone
    printed = proc.communicate(timeout=300)[0]
    assert proc.returncode == 143, printed
    assert "hngraph: terminated; finished result files are kept" in printed
    deadline = time.time() + 180  # the event itself, with a wide bound
    while time.time() < deadline and _processes_naming(str(submitted)):
        time.sleep(0.2)
    assert not _processes_naming(str(submitted))
    assert not list((tmp_path / "long").rglob("*_seed*.json"))


def test_slurm_without_sbatch_refuses_and_names_the_fix(tmp_path, run_cli,
                                                        monkeypatch):
    monkeypatch.delenv(TEST_CLUSTER, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch on it
    pytest.importorskip("submitit")
    done = run_cli("grid", "run", tiny_grid(tmp_path, "x"), "--executor",
                   "slurm", "--allow-dirty")
    assert done.returncode == 2
    assert "--executor slurm needs SLURM's sbatch, which is not on PATH" \
        in done.stderr
    assert not (tmp_path / "x" / "MUTAG").exists()  # nothing ran


def test_slurm_without_a_controller_or_whose_sbatch_fails_runs_nothing(
        tmp_path, run_cli, monkeypatch):
    """An sbatch on PATH but no cluster behind it: submitit's own guess
    would run the grid here; the executor stops instead, before submitting
    when no controller answers, and when sbatch refuses the array."""
    pytest.importorskip("submitit")
    monkeypatch.delenv(TEST_CLUSTER, raising=False)
    tools = tmp_path / "bin"
    tools.mkdir()

    def tool(name, script):
        (tools / name).write_text("#!/bin/sh\n" + script)
        (tools / name).chmod(0o755)

    tool("sbatch", "echo 'sbatch: error: Batch job submission failed: "
         "Unable to contact slurm controller' >&2\nexit 1\n")
    tool("scontrol", "echo 'Slurmctld(primary) at head is DOWN'\nexit 1\n")
    monkeypatch.setenv("PATH", f"{tools}:{os.environ['PATH']}")
    done = run_cli("grid", "run", tiny_grid(tmp_path, "x"), "--executor",
                   "slurm", "--allow-dirty")
    assert done.returncode == 2
    assert "no SLURM controller answered `scontrol ping`" in done.stderr
    assert not (tmp_path / "x" / ".submitit").exists()  # nothing submitted
    tool("scontrol", "echo 'Slurmctld(primary) at head is UP'\n")
    done = run_cli("grid", "run", tiny_grid(tmp_path, "x"), "--executor",
                   "slurm", "--allow-dirty")
    assert done.returncode != 0
    assert "--executor slurm could not submit the job array" in done.stderr
    assert not list((tmp_path / "x").rglob("*_seed*.json"))  # nothing ran


@pytest.mark.parametrize("executor,module", [("ray", "ray"),
                                             ("slurm", "submitit")])
def test_a_missing_extra_is_one_line_naming_pip(tmp_path, run_cli,
                                                monkeypatch, executor,
                                                module):
    monkeypatch.setitem(sys.modules, module, None)  # import fails
    done = run_cli("grid", "run", tiny_grid(tmp_path, "x"), "--executor",
                   executor, "--allow-dirty")
    assert done.returncode == 2
    assert done.stderr == (f"hngraph: error: --executor {executor} needs "
                           f"{module}, which is not installed: pip install "
                           f"\"hngraph[{executor}]\"\n")


def test_slurm_settings_from_the_config_and_the_flags(tmp_path):
    grid = GridConfig.from_yaml(tiny_grid(tmp_path, "x"))
    settings = grid.slurm_settings(partition="gpu", time_min=None)
    assert (settings.chunk, settings.partition, settings.time_min) == \
        (2, "gpu", 120)
    with pytest.raises(ValueError, match=r"slurm: unknown key\(s\) "
                       r"\['nodes'\]"):
        grid.slurm_settings(nodes=2)
    with pytest.raises(ValueError, match="chunk must be an integer >= 1"):
        grid.slurm_settings(chunk=0)
    # the array task's CPUs and GPUs: the settings', else the run's
    os.environ[TEST_CLUSTER] = "local"
    try:
        pytest.importorskip("submitit")
        ex = SlurmExecutor(tmp_path, SlurmSettings(gpus_per_task=2), 4, 0)
        assert (ex.cpus, ex.gpus) == (4, 2)
    finally:
        del os.environ[TEST_CLUSTER]


def _worker_gpu(pause: float):
    import hngraph.runs.executors
    time.sleep(pause)
    return os.getpid(), hngraph.runs.executors.WORKER_GPU


@pytest.mark.slow
def test_local_workers_take_the_visible_gpus_in_turn():
    """3 workers over 2 GPUs hold the slots 0, 1 and 0, each its own for all
    its runs (the slot a worker hands to CUDA runs)."""
    from hngraph.runs.executors import LocalExecutor
    ex = LocalExecutor(jobs=3, gpus=2)
    try:
        got = [get() for _, get in ex.results(
            _worker_gpu, [(i, (1.5,)) for i in range(6)])]
    finally:
        ex.close()
    by_worker = {}
    for pid, slot in got:
        by_worker.setdefault(pid, set()).add(slot)
    assert all(len(s) == 1 for s in by_worker.values()), by_worker
    slots = sorted(s.pop() for s in by_worker.values())
    # a worker that started late may have found no run left
    assert slots == [0, 0, 1] if len(slots) == 3 else set(slots) <= {0, 1}
