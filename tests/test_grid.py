"""The grid runner (hngraph.runs.grid): its config contract clause by clause, the
plan, resuming a killed grid, failures, and one runner per out folder."""
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from hngraph.errors import DirtySourceError
from hngraph.results import Source, read_result
from hngraph.runs.grid import (
    GridConfig,
    ResultFiles,
    Run,
    check_source,
    counted,
    estimate,
    estimate_words,
    finished,
    plan,
    run_grid,
    run_task,
    selected,
)

BASE = {"out": "OUT", "epochs": 2, "batch_size": 64, "hidden": 8,
        "layers": 2, "seeds": [0, 1], "datasets": ["MUTAG"],
        "cells": {"infograph": {"beta": 0, "tau_plus": 0},
                  "paper-b1": {"beta": 1, "tau_plus": 0.5}}}


def write(tmp_path, **changes):
    cfg = {**BASE, "out": str(tmp_path / "out"), **changes}
    cfg = {k: v for k, v in cfg.items() if v is not None}
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


# One violating value per clause of the grid config's contract: (change,
# what the error must say).
CLAUSES = [
    ({"out": None}, "the grid needs 'out'"),
    ({"seeds": None}, "the grid needs 'seeds'"),
    ({"datasets": None}, "the grid needs 'datasets'"),
    ({"cells": None}, "the grid needs 'cells'"),
    ({"out": ""}, "out must be a folder path"),
    ({"seeds": []}, "seeds must be a non-empty list"),
    ({"seeds": ["0"]}, "seeds must be a non-empty list of items each an "
     "integer in [0, 4294967296)"),
    ({"seeds": [0, 0]}, "seeds lists [0] more than once"),
    ({"seeds": [2 ** 32]}, "seeds must be a non-empty list of items each an "
     "integer in [0, 4294967296)"),
    ({"datasets": []}, "datasets must be a non-empty list"),
    ({"datasets": ["../MUTAG"]}, "datasets must be a non-empty list of "
     "items each a TU dataset name"),
    ({"datasets": [".."]}, "datasets must be a non-empty list of items "
     "each a TU dataset name"),  # it would write beside out, not in it
    ({"datasets": ["MUTAG", "MUTAG"]}, "datasets lists ['MUTAG'] more"),
    ({"cells": {}}, "cells must be a non-empty mapping"),
    ({"cells": [1, 2]}, "cells must be a non-empty mapping"),
    ({"cells": {"a": {"tau_plus": 0}}}, "cell 'a' must set beta"),
    ({"cells": {"a": {"beta": 0}}}, "cell 'a' must set tau_plus"),
    ({"cells": {"a": {"beta": -1, "tau_plus": 0}}}, "'beta' must be a finite "
     "number >= 0"),
    ({"cells": {"a": {"beta": 0, "tau_plus": 0, "colour": 1}}},
     "cell 'a': unknown key(s) 'colour'. It takes: aug1,"),
    ({"cells": {"a": {"beta": 0, "tau_plus": 0, "epoch": 1}}},
     "cell 'a': unknown key(s) 'epoch' (did you mean 'epochs'?)"),
    ({"repeats": 0}, "repeats must be an integer >= 1 or a mapping"),
    ({"repeats": {"MUTAG": "5"}}, "repeats must be an integer >= 1 or"),
    ({"selections": {"pick": ["nope"]}}, "selections[pick] names ['nope']"),
    ({"selections": {"pick": []}}, "selections must be a mapping of names "
     "to values each a non-empty list"),
    ({"pools": {"p": ["nope"]}}, "pools[p] names ['nope']"),
    ({"modes": {"m": ["nope"]}}, "modes[m] names ['nope']"),
    ({"baseline": "nope"}, "baseline has the report pair 'nope' with 'nope'"),
    ({"pairs": {"paper-b1": "nope"}}, "pairs has the report pair 'paper-b1' with "
     "'nope'"),
    ({"published": {"X": {"MUTAG": "89"}}}, "published must be a mapping"),
    ({"report": "a/b"}, "report must be a name"),
    ({"title": 3}, "title must be a string"),
    ({"colour": 1}, "unknown key(s) 'colour' (did you mean 'columns'?). "
     "It takes: aug1,"),
    ({"epochs": -1}, "'epochs' must be an integer in [0, 1000000)"),
    ({"cells": {"a": {"beta": 0, "tau_plus": 0, "seed": 3}}},
     "cell 'a' sets ['seed'], which the grid sets for every run (seed from "
     "seeds:)"),
    ({"cells": {"a": {"beta": 0, "tau_plus": 0, "dataset": "PTC_MR",
                      "out": "x"}}}, "cell 'a' sets ['dataset', 'out']"),
    ({"cells": {"a/b": {"beta": 0, "tau_plus": 0}}},
     "cell and selection names must be a name"),
    ({"selections": {"../x": ["infograph"]}},
     "cell and selection names must be a name"),
    ({"cells": {"..": {"beta": 0, "tau_plus": 0}}},
     "cell and selection names must be a name"),
    ({"repeats": {"mutag": 3}}, "repeats names ['mutag'], not datasets"),
]


@pytest.mark.parametrize("change,message", CLAUSES)
def test_every_clause_of_the_grid_contract(tmp_path, change, message):
    with pytest.raises((KeyError, TypeError, ValueError)) as err:
        GridConfig.from_yaml(write(tmp_path, **change))
    text = str(err.value.args[0] if isinstance(err.value, KeyError)
               else err.value)
    assert message in text and str(tmp_path / "grid.yaml") in text


def test_grid_yaml_shapes_and_duplicate_keys(tmp_path):
    path = tmp_path / "g.yaml"
    for text, message in (("- a\n- b\n", "must hold a mapping"),
                          ("", "the grid needs 'out'"),
                          ("out: a\nout: b\n", "'out' is given twice")):
        path.write_text(text)
        with pytest.raises((KeyError, TypeError, ValueError), match=message):
            GridConfig.from_yaml(path)
    with pytest.raises(FileNotFoundError, match="is a folder"):
        GridConfig.from_yaml(tmp_path)


def test_out_resolves_against_the_current_folder_and_home(tmp_path,
                                                          monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    grid = GridConfig.from_yaml(write(tmp_path, out="rel/out"))
    assert grid.out_path == tmp_path / "rel" / "out"
    grid = GridConfig.from_yaml(write(tmp_path, out="~/g"))
    assert grid.out_path == tmp_path / "home" / "g"


def test_plan_is_seed_by_seed_and_refuses_unknown_names(tmp_path):
    grid = GridConfig.from_yaml(write(
        tmp_path, selections={"pick": ["infograph", "paper-b1"]}))
    assert plan(grid) == [Run("MUTAG", c, s) for s in (0, 1)
                          for c in ("infograph", "paper-b1", "pick")]
    for kwargs, message in (({"cells": ["nope"]}, "unknown cell"),
                            ({"datasets": ["PTC_MR"]}, "unknown dataset"),
                            ({"seeds": []}, "an empty list of seeds"),
                            ({"seeds": [7]}, r"unknown seed\(s\) \[7\]")):
        with pytest.raises(ValueError, match=message):
            plan(grid, **kwargs)
    assert plan(grid, seeds=[1])[0] == Run("MUTAG", "infograph", 1)


def test_a_result_of_other_settings_is_not_finished(tmp_path):
    """Results of another epoch count (or repeats, or data source) are run
    again; a selection counts only when made from its cells' current
    files."""
    grid = GridConfig.from_yaml(write(
        tmp_path, selections={"pick": ["infograph", "paper-b1"]}))
    run = Run("MUTAG", "infograph", 0)
    path = run.files(grid.out_path).result
    path.parent.mkdir(parents=True)
    config = grid.train_config(*run).to_dict()
    for changes, done in (({}, True), ({"epochs": 3}, False),
                          ({"repeats": 2}, False), ({"root": "/x"}, False),
                          ({"device": "cuda"}, True)):
        path.write_text(json.dumps({"config": {**config, **changes},
                                    "accuracy_mean": 0.5, "seed": 0}))
        assert finished(grid, run, ResultFiles(grid)) is done, changes
    other = run._replace(cell="paper-b1")
    other.files(grid.out_path).result.write_text(json.dumps(
        {"config": grid.train_config(*other).to_dict(), "accuracy_mean": 0.5,
         "seed": 0, "finished": "t1"}))
    path.write_text(json.dumps({"config": config, "accuracy_mean": 0.5,
                                "seed": 0, "finished": "t0"}))
    pick = run._replace(cell="pick")
    pick.files(grid.out_path).result.write_text(json.dumps(
        {"accuracy_mean": 0.5, "seed": 0, "cells_finished": {"infograph": "t0",
                                                  "paper-b1": "t1"}}))
    assert selected(grid, pick, {run, other}, ResultFiles(grid))
    assert not selected(grid, pick, {run}, ResultFiles(grid))
    path.write_text(json.dumps({"config": config, "accuracy_mean": 0.5,
                                "seed": 0, "finished": "t2"}))  # a cell was rerun
    assert not selected(grid, pick, {run, other}, ResultFiles(grid))


def test_one_runner_per_out_folder(tmp_path):
    from hngraph.runs.grid import _OutLock
    grid = GridConfig.from_yaml(write(tmp_path))
    code = ("import sys; from hngraph.runs.grid import GridConfig, plan, "
            "run_grid; g = GridConfig.from_yaml(sys.argv[1]); "
            "run_grid(g, plan(g), allow_dirty=True, dry_run=sys.argv[2] == "
            "'dry')")
    with _OutLock(grid.out_path):
        other, dry = (subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / "grid.yaml"), mode],
            capture_output=True, text=True, timeout=300)
            for mode in ("run", "dry"))
    assert other.returncode != 0
    assert "another grid runner (pid " in other.stderr
    assert not list(grid.out_path.rglob("*.json"))
    # a dry run writes nothing: it reads while the runner works
    assert dry.returncode == 0, dry.stderr
    assert "4 runs in the grid: 0 finished (skipped), 4 to do" in dry.stdout


def test_a_dry_run_estimates_the_time_left_from_the_result_files(tmp_path):
    grid = GridConfig.from_yaml(write(
        tmp_path, seeds=[0, 1, 2], cells={
            "untrained": {"beta": 0, "tau_plus": 0, "epochs": 0},
            "infograph": {"beta": 0, "tau_plus": 0},
            "paper-b1": {"beta": 1, "tau_plus": 0.5}},
        selections={"pick": ["infograph", "paper-b1"]}))
    walls = {("infograph", 0): 100.0, ("infograph", 1): 300.0,
             ("untrained", 0): 10.0}
    results = ResultFiles(grid)
    for (cell, seed), wall in walls.items():
        results[Run("MUTAG", cell, seed)] = {"wall_time_s": wall}
    left = [r for r in plan(grid) if (r.cell, r.seed) not in walls]
    # infograph seed 2: its cell's median, 200; untrained seeds 1 and 2: 10
    # each; paper-b1, seeds 0 to 2: the median of the 2-epoch runs, 200;
    # the 3 selections: nothing to go by
    assert estimate(grid, left, {Run("MUTAG", c, s) for c, s in walls},
                    results) == (200 + 2 * 10 + 3 * 200, 3, 0)
    # from the result files of another commit: the same, plus those runs
    # again (820 + 410 s = 0.34 h)
    for (cell, seed), wall in walls.items():
        run = Run("MUTAG", cell, seed)
        _result(grid, run, "b" * 40)
        path = run.files(grid.out_path).result
        path.write_text(json.dumps({**json.loads(path.read_text()),
                                    "wall_time_s": wall}))
    said = []
    run_grid(grid, plan(grid), dry_run=True, echo=said.append, jobs=2)
    assert said[-1].startswith(
        "At least 0.3 h of one process, 0.2 h with --jobs 2: that is for "
        "the 9 run(s) with result files to go by, and 3 more have none (")
    # nothing to go by at all: no figure, never "0.0 h"
    assert estimate_words(0.0, 12, 12) == (
        "No estimate of the time: none of the 12 run(s) has a result file "
        "to go by (each run: the median wall time of the result files of "
        "its dataset and cell, or else of its dataset and epochs, or else "
        "the median seconds per node of its cell on the grid's other "
        "result files times its dataset's nodes).")
    assert estimate_words(7200.0, 0, 4).startswith("About 2.0 h of one "
                                                   "process (")


def test_a_dataset_without_result_files_is_scaled_by_its_nodes(tmp_path,
                                                               data_root):
    # MUTAG's infograph runs took 100 and 300 s over its 3,371 nodes; a
    # PTC_MR run (4,915 nodes) of the same cell: median(100, 300) / 3371 *
    # 4915 s, labelled a rough estimate.
    from hngraph.data.tudataset import count_nodes
    assert (count_nodes("MUTAG"), count_nodes("PTC_MR")) == (3371, 4915)
    grid = GridConfig.from_yaml(write(tmp_path, seeds=[0, 1],
                                      datasets=["MUTAG", "PTC_MR"]))
    results = ResultFiles(grid)
    done = {Run("MUTAG", "infograph", 0), Run("MUTAG", "infograph", 1)}
    for run, wall in zip(sorted(done), (100.0, 300.0), strict=True):
        results[run] = {"wall_time_s": wall}
    seconds, unknown, scaled = estimate(
        grid, [Run("PTC_MR", "infograph", 0)], done, results)
    assert (unknown, scaled) == (0, 1)
    assert seconds == pytest.approx(200 / 3371 * 4915)
    assert "1 of the runs are scaled from other datasets by their nodes, a " \
        "rough estimate" in estimate_words(seconds, 0, 1, 1, 1)


def snapshot(out: Path) -> dict:
    return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(),
                     p.stat().st_mtime_ns) for p in out.rglob("*_seed*.json")}


@pytest.mark.slow
def test_kill_mid_grid_and_restart(data_root, tmp_path):
    cfg = write(tmp_path, seeds=[0, 1, 2], repeats={"MUTAG": 2},
                selections={"pick": ["infograph", "paper-b1"]})
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "hngraph.cli", "grid", "run", str(cfg),
           "--device", "cpu", "--threads", "1", "--allow-dirty"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 600  # a loaded machine is slow, not wrong
    while time.time() < deadline and len(list(out.rglob("*_seed*.json"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    printed = proc.communicate()[0].decode(errors="replace")
    before = snapshot(out)
    assert 2 <= len(before) < 9, f"kill the grid while it is running; " \
        f"it printed: {printed[-3000:]}"
    for name in before:  # every finished file is complete JSON
        assert read_result(next(out.rglob(name)))
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    # not a terminal: a line per finished run, no carriage-return bar, and
    # no dataset messages of PyG's
    assert "\r" not in done.stdout + done.stderr
    assert f"[1/{9 - len(before)}] MUTAG" in done.stdout
    assert "Processing" not in done.stdout + done.stderr
    assert f"{len(before)} finished (skipped), {9 - len(before)} to do" \
        in done.stdout
    # the hours left, from the wall times of the files written before
    assert re.search(r"^(About|At least) \d+\.\d h of one process",
                     done.stdout, re.MULTILINE), done.stdout
    after = snapshot(out)
    assert len(after) == 9
    for name, stamp in before.items():  # finished runs were not redone
        assert after[name] == stamp
    assert not list(out.rglob("*.tmp"))
    pick = read_result(out / "MUTAG" / "pick_seed2.json")
    assert pick["repeats"] == 2 and len(pick["chosen"]) == 20
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert "9 finished (skipped), 0 to do" in again.stdout
    assert " h of one process" not in again.stdout  # nothing to estimate
    # a selection alone, on the finished grid: nothing to do, nothing failed
    pick = subprocess.run([*cmd, "--cells", "pick"], capture_output=True,
                          text=True, timeout=300)
    assert pick.returncode == 0, pick.stdout + pick.stderr
    assert "3 finished (skipped), 0 to do" in pick.stdout
    assert not list(out.rglob("*.failed"))


def test_cli_refuses_a_bad_grid_at_once(tmp_path, run_cli):
    bad = run_cli("grid", "run", write(tmp_path, seeds=[]))
    assert bad.returncode == 2
    assert bad.stderr.startswith("hngraph: error: ") and "seeds" in bad.stderr
    assert run_cli("grid", "run", write(tmp_path), "--jobs", "0"
                   ).returncode == 2
    assert run_cli("grid", "run", write(tmp_path), "--cells", "nope"
                   ).returncode == 2


def test_an_out_folder_that_cannot_be_made_is_a_usage_error(tmp_path,
                                                            capsys):
    from hngraph.cli import main
    (tmp_path / "file").write_text("x")
    long = str(tmp_path / ("x" * 300))  # longer than a file name may be
    for flags, out, says in (
            (["--out", long], None, "--out"),
            (["--out", str(tmp_path / "file")], None, "--out"),
            ([], long, f"{tmp_path / 'grid.yaml'}: out"),
            ([], str(tmp_path / "file" / "sub"),
             f"{tmp_path / 'grid.yaml'}: out"),
            (["--out", "a\x00b"], None, "--out 'a\\x00b' holds a character")):
        config = write(tmp_path, **({"out": out} if out else {}))
        assert main(["grid", "run", str(config), "--dry-run", "--allow-dirty",
                     *flags]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"hngraph: error: {says}") and \
            len(err.splitlines()) == 1, err


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")
def test_a_killed_runner_leaves_no_worker_behind(data_root, tmp_path):
    cfg = write(tmp_path, epochs=50, seeds=[0, 1, 2])
    proc = subprocess.Popen([sys.executable, "-m", "hngraph.cli", "grid",
                             "run", str(cfg), "--device", "cpu", "--jobs",
                             "2", "--threads", "1", "--allow-dirty"],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    workers = []
    while time.time() < deadline and len(workers) < 2:
        workers = [c for c in _children(proc.pid)
                   if b"spawn_main" in Path(f"/proc/{c}/cmdline")
                   .read_bytes()]
        time.sleep(0.1)
    assert len(workers) == 2, "the runner never started its workers"
    time.sleep(3)  # the workers are past their start, into training
    proc.kill()  # the runner alone, as a crash or an OOM kill would
    proc.wait()
    # The kernel sends each worker SIGTERM at once; Python acts on it at the
    # next bytecode, after the native call under way (a batch, an SVM fit),
    # which 2 busy cores can stretch well past 30 s.
    deadline = time.time() + 180
    while time.time() < deadline and any(Path(f"/proc/{w}").exists()
                                         for w in workers):
        time.sleep(0.1)
    assert not any(Path(f"/proc/{w}").exists() for w in workers)


DIRTY = Source("a" * 40, "d" * 64)


def test_a_dirty_source_is_refused_unless_allowed(tmp_path, run_cli,
                                                  monkeypatch):
    with pytest.raises(DirtySourceError, match="--allow-dirty"):
        check_source(False, source=DIRTY)
    check_source(True, source=DIRTY)
    check_source(False, source=Source("a" * 40))
    monkeypatch.setattr("hngraph.runs.grid.SOURCE", DIRTY)
    cfg = write(tmp_path)
    refused = run_cli("grid", "run", cfg)
    assert refused.returncode == 2
    assert "uncommitted changes" in refused.stderr
    assert not (tmp_path / "out" / "MUTAG").exists()  # nothing ran
    assert run_cli("grid", "run", cfg, "--dry-run").returncode == 0


def test_a_worker_that_imported_other_code_refuses_to_run(tmp_path):
    grid = GridConfig.from_yaml(write(tmp_path))
    with pytest.raises(RuntimeError, match="the source changed while the "
                       "grid ran"):
        run_task(grid, Run("MUTAG", "infograph", 0), "all", "cpu", 1, DIRTY)
    assert not (tmp_path / "out" / "MUTAG").exists()


def _result(grid, run, commit, diff=None):
    path = run.files(grid.out_path).result
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"config": grid.train_config(*run).to_dict(),
                                "accuracy_mean": 0.5, "seed": run.seed,
                                "commit": commit,
                                "source_diff": diff, "finished": "t"}))


def test_each_dataset_keeps_one_commit(tmp_path):
    """A dataset finished at one clean commit is kept whatever the runner's
    commit; elsewhere only the runner's own results count."""
    grid = GridConfig.from_yaml(write(tmp_path, datasets=["MUTAG", "PTC_MR"]))
    old, new = "b" * 40, "c" * 40
    every = plan(grid)
    for run in every:
        _result(grid, run, old if run.dataset == "MUTAG" or run.seed == 0
                else new)
    done = set(every)
    kept = counted(grid, done, ResultFiles(grid), source=Source(new))
    assert {r for r in kept if r.dataset == "MUTAG"} == set(plan(grid,
                                                                 datasets=["MUTAG"]))
    assert {r for r in kept if r.dataset == "PTC_MR"} == set(
        plan(grid, datasets=["PTC_MR"], seeds=[1]))
    # the same commit, dirty: not the clean one, and never frozen
    _result(grid, Run("MUTAG", "infograph", 0), old + "-dirty", "e" * 64)
    kept = counted(grid, done, ResultFiles(grid), source=Source(new))
    assert not {r for r in kept if r.dataset == "MUTAG"}
    # a result of a clean commit without source_diff (older files) is clean
    _result(grid, Run("MUTAG", "infograph", 0), old)
    assert len(counted(grid, done, ResultFiles(grid), source=Source(old))) == len(every) - 2


def test_a_dry_run_changes_nothing(tmp_path):
    grid = GridConfig.from_yaml(write(tmp_path))
    partial = grid.out_path / "MUTAG" / ".infograph_seed0.json.x.tmp"
    partial.parent.mkdir(parents=True)
    partial.write_text("{")
    said = []
    run_grid(grid, plan(grid), dry_run=True, echo=said.append)
    assert partial.exists() and "removed" not in said[0]


@pytest.mark.slow
def test_ctrl_c_stops_the_grid_and_its_queued_runs(data_root, tmp_path):
    """SIGINT to the process group, as a terminal sends it, once the runs
    are under way: the runner exits with 130 within seconds, no queued run
    starts, the workers end, and no result file appears afterwards (before
    the fix, the worker took the queued runs one after the other)."""
    cfg = write(tmp_path, epochs=300, seeds=list(range(8)))
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hngraph.cli", "grid", "run", str(cfg),
         "--device", "cpu", "--jobs", "1", "--threads", "1",
         "--allow-dirty"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 300
    while time.time() < deadline and not list(out.rglob("*_seed*.json")):
        time.sleep(0.05)  # the first run finished: the next one is training
    workers = [c for c in _children(proc.pid)
               if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
    before = len(list(out.rglob("*_seed*.json")))
    assert before and workers, "the grid never finished a run"
    os.killpg(proc.pid, signal.SIGINT)
    start = time.time()
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert time.time() - start < 20
    assert "hngraph: interrupted" in err
    time.sleep(2)
    assert not any(Path(f"/proc/{w}").exists() for w in workers)
    assert len(list(out.rglob("*_seed*.json"))) <= before + 1  # one in flight
    assert not list(out.rglob("*.tmp"))


def test_an_out_folder_is_its_grids_unless_another_says_it_shares_it(
        tmp_path, run_cli):
    first = write(tmp_path)
    other = tmp_path / "other.yaml"
    other.write_text(first.read_text())
    assert run_cli("grid", "run", first, "--dry-run").returncode == 0
    assert not (tmp_path / "out" / ".grid.json").exists()  # a dry run
    from hngraph.runs.grid import claim_out
    claim_out(GridConfig.from_yaml(first))
    assert json.loads((tmp_path / "out" / ".grid.json").read_text()) == {
        "grids": {"grid": str(first)}}
    refused = run_cli("grid", "run", other, "--dry-run")
    assert refused.returncode == 2
    assert refused.stderr.startswith(
        f"hngraph: error: {tmp_path / 'out'} holds the runs of the grid(s) "
        f"'grid' ({first}), and this grid, 'other', would replace")
    assert "--share-out" in refused.stderr
    assert run_cli("grid", "run", other, "--dry-run", "--share-out"
                   ).returncode == 0
    other.write_text(other.read_text() + "shares_out: [grid]\n")
    claim_out(GridConfig.from_yaml(other))
    assert json.loads((tmp_path / "out" / ".grid.json").read_text()) == {
        "grids": {"grid": str(first), "other": str(other)}}
    claim_out(GridConfig.from_yaml(first))  # both write there now


def test_a_result_of_other_settings_is_never_replaced_unasked(
        data_root, tmp_path, run_cli):
    """Whatever wrote it (this config before an edit, or another grid whose
    .grid.json entry is gone), a result file of other settings stays, and
    the refusal names it and the settings that differ."""
    first = write(tmp_path, epochs=1, seeds=[0],
                  cells={"infograph": {"beta": 0, "tau_plus": 0}})
    assert run_cli("grid", "run", first, "--allow-dirty").returncode == 0
    path = tmp_path / "out" / "MUTAG" / "infograph_seed0.json"
    before = path.read_bytes()
    (tmp_path / "out" / ".grid.json").unlink()  # the registry is lost
    other = tmp_path / "elsewhere"
    other.mkdir()
    edited = write(other, epochs=2, seeds=[0], out=str(tmp_path / "out"),
                   cells={"infograph": {"beta": 0, "tau_plus": 0}})
    refused = run_cli("grid", "run", edited, "--allow-dirty")
    assert refused.returncode == 2
    assert f"{path} (epochs: 1 there, 2 now)" in refused.stderr
    assert "--replace-other-settings" in refused.stderr
    assert path.read_bytes() == before
    assert run_cli("grid", "run", edited, "--allow-dirty", "--dry-run"
                   ).returncode == 0  # a dry run only lists
    done = run_cli("grid", "run", edited, "--allow-dirty",
                   "--replace-other-settings")
    assert done.returncode == 0, done.stderr
    assert json.loads(path.read_text())["config"]["epochs"] == 2


@pytest.mark.slow
def test_a_selection_whose_cell_failed_names_the_cell_not_a_bug(
        data_root, tmp_path):
    """A cell that fails (a weighting of one's own that raises) leaves its
    selection unmade, and the selection's failure names that cell as a
    failure of the run, never as an internal error of hngraph."""
    (tmp_path / "broken_weighting.py").write_text(
        "from hngraph.nn.weighting import UniformNegatives\n\n\n"
        "class Broken(UniformNegatives):\n"
        "    def tilt(self, scores, excluded, scale=None):\n"
        "        raise ValueError('no tilt today')\n")
    cfg = write(tmp_path, seeds=[0], epochs=1, cells={
        "infograph": {"beta": 0, "tau_plus": 0},
        "broken": {"beta": 0, "tau_plus": 0,
                   "reweight": "broken_weighting:Broken"}},
        selections={"pick": ["infograph", "broken"]})
    done = subprocess.run(
        [sys.executable, "-m", "hngraph.cli", "grid", "run", str(cfg),
         "--threads", "1", "--allow-dirty"], cwd=tmp_path,
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "MUTAG broken seed 0: internal error: ValueError: no tilt " \
        "today" in done.stdout
    assert "MUTAG pick seed 0: not made: its cell(s) broken failed at " \
        "this seed" in done.stdout
    failure = json.loads((tmp_path / "out" / "MUTAG" /
                          "pick_seed0.failed").read_text())
    assert failure["error"].startswith("not made: its cell(s) broken")
    assert any((tmp_path / "out" / "MUTAG").glob("infograph_seed0*.json"))
