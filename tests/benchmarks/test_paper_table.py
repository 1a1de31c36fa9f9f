import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import paper_table
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def grid_config(tmp_path):
    cfg = {"out": str(tmp_path / "out"), "epochs": 2, "batch_size": 64,
           "hidden": 8, "layers": 2, "seeds": [0, 1, 2, 3],
           "datasets": ["MUTAG"],
           "objectives": {"infograph": {"beta": 0, "tau_plus": 0},
                          "paper-b1": {"beta": 1, "tau_plus": 0.5}}}
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def snapshot(out: Path) -> dict:
    return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(),
                     p.stat().st_mtime_ns) for p in out.rglob("*.json")}


@pytest.mark.slow
def test_kill_mid_grid_and_restart(data_root, tmp_path):
    cfg = grid_config(tmp_path)
    out = tmp_path / "out"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "paper_table.py"),
           "--config", str(cfg), "--device", "cpu", "--threads", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 300  # a loaded machine is slow, not wrong
    while time.time() < deadline and len(list(out.rglob("*.json"))) < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    printed = proc.communicate()[0].decode(errors="replace")
    before = snapshot(out)
    assert 3 <= len(before) < 8, f"kill the grid while it is running; it " \
        f"printed: {printed[-3000:]}"
    for name in before:  # every finished file is complete JSON
        json.loads(next(out.rglob(name)).read_text())["accuracy_mean"]

    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(before)} finished (skipped), {8 - len(before)} to do" \
        in done.stdout
    after = snapshot(out)
    assert len(after) == 8
    for name, stamp in before.items():  # finished runs were not redone
        assert after[name] == stamp
    assert not list(out.rglob("*.tmp"))

    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert "8 finished (skipped), 0 to do" in again.stdout

    # The report turns the finished grid into a table, a CSV and a plot.
    rep = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "report.py"),
                          "--out", str(out)], capture_output=True, text=True,
                         timeout=300)
    assert rep.returncode == 0, rep.stderr
    table = (out / "RESULTS.md").read_text()
    row = next(ln for ln in table.splitlines() if ln.startswith("| MUTAG"))
    assert row.count("(n=4)") == 2 and row.count("**") == 2
    assert "89.01 ± 1.13" in row  # the published InfoGraph figure
    csv_rows = (out / "results.csv").read_text().splitlines()
    assert len(csv_rows) == 3 and csv_rows[1].startswith("MUTAG,")
    assert (out / "accuracy_vs_beta.png").stat().st_size > 10_000


def test_best_beta_compares_columns_on_the_same_datasets(tmp_path):
    """``paper-best`` for the large datasets: a column run on an easy
    dataset only, or with other epochs, is not picked over complete ones."""
    from paper_table import best_beta
    grid = {"datasets": ["EASY", "HARD"], "objectives": {
        "paper-b1": {"beta": 1, "tau_plus": 0.5},
        "paper-b2": {"beta": 2, "tau_plus": 0.5, "reweight": "paper"},
        "paper-b1-tau0.1": {"beta": 1, "tau_plus": 0.1},
        "paper-b1-20ep": {"beta": 1, "tau_plus": 0.5, "epochs": 20},
        "hcl-code-b1": {"beta": 1, "tau_plus": 0.5, "reweight": "hcl-code"},
        "infograph": {"beta": 0, "tau_plus": 0}}}
    accs = {("EASY", "paper-b1"): 0.9, ("HARD", "paper-b1"): 0.5,
            ("EASY", "paper-b2"): 0.8, ("HARD", "paper-b2"): 0.55,
            ("EASY", "paper-b1-tau0.1"): 0.95,
            ("EASY", "paper-b1-20ep"): 0.99, ("HARD", "paper-b1-20ep"): 0.99,
            ("EASY", "hcl-code-b1"): 0.1, ("HARD", "hcl-code-b1"): 0.1,
            ("EASY", "infograph"): 1.0, ("HARD", "infograph"): 1.0}
    for (d, name), acc in accs.items():
        (tmp_path / d).mkdir(exist_ok=True)
        (tmp_path / d / f"{name}_seed0.json").write_text(
            json.dumps({"accuracy_mean": acc}))
    assert best_beta(tmp_path, grid, "paper") == "paper-b1"
    assert best_beta(tmp_path, grid, "hcl-code") == "hcl-code-b1"


@pytest.mark.slow
def test_failed_run_is_recorded_and_the_others_finish(data_root, tmp_path,
                                                      capsys):
    out = tmp_path / "out"
    cfg = {"out": str(out), "epochs": 1, "batch_size": 64, "hidden": 8,
           "layers": 2, "seeds": [0], "datasets": ["MUTAG", "PTC_MR"],
           "objectives": {"infograph": {"beta": 0, "tau_plus": 0},
                          "broken": {"beta": -1.0, "tau_plus": 0.5}}}
    (tmp_path / "grid.yaml").write_text(yaml.safe_dump(cfg))
    argv = ["--config", str(tmp_path / "grid.yaml"), "--device", "cpu",
            "--jobs", "2", "--threads", "1"]
    assert paper_table.main(argv) == 1
    printed = capsys.readouterr().out
    assert "2 run(s) failed" in printed and "beta" in printed
    for dataset in ("MUTAG", "PTC_MR"):
        assert paper_table.read_result(
            paper_table.result_path(out, dataset, "infograph", 0))
        failure = json.loads(paper_table.failure_path(
            out, dataset, "broken", 0).read_text())
        assert failure["dataset"] == dataset and failure["seed"] == 0
        assert "ValueError" in failure["error"]
    # Rerun: the finished runs are skipped, the failed ones tried again.
    assert paper_table.main(argv) == 1
    assert "2 finished (skipped), 2 to do" in capsys.readouterr().out
