"""The guide's example of a method of one's own (docs/examples): a
negative weighting named by import path runs through the grid and its
report like a built-in cell."""
import csv
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"


def test_own_negatives_runs_through_the_protocol(data_root, tmp_path):
    for name in ("own_negatives.py", "own_negatives.yaml"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    config = tmp_path / "own_negatives.yaml"
    grid = yaml.safe_load(config.read_text())
    # the example, made quick: fewer epochs, seeds and cells
    grid.update(epochs=1, seeds=[0, 1])
    for cell in ("untrained", "paper-b1"):
        del grid["cells"][cell]
    config.write_text(yaml.safe_dump(grid))
    command = [sys.executable, "-m", "hngraph.cli"]
    run = subprocess.run(command + ["grid", "run", "own_negatives.yaml",
                                    "--threads", "1", "--allow-dirty"],
                         cwd=tmp_path, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    out = tmp_path / "results" / "own_negatives" / "MUTAG"
    digest = hashlib.sha256((tmp_path / "own_negatives.py").read_bytes())
    for cell in ("scaled-b1", "scaled-b4"):
        for seed in (0, 1):
            [path] = out.glob(f"{cell}_seed{seed}*.json")
            plugin = json.loads(path.read_text())["plugins"]["reweight"]
            assert plugin["import_path"] == \
                "own_negatives:ScaledHardNegatives"
            assert plugin["sha256"] == digest.hexdigest()
            assert Path(plugin["file"]) == tmp_path / "own_negatives.py"
    [plain] = out.glob("infograph_seed0*.json")
    assert "plugins" not in json.loads(plain.read_text())
    # as from one clean commit, whatever the state of this checkout
    for path in out.parent.rglob("*_seed*.json"):
        result = json.loads(path.read_text())
        path.write_text(json.dumps({**result, "commit": "c" * 40,
                                    "source_diff": None}))
    report = subprocess.run(command + ["grid", "report",
                                       "own_negatives.yaml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=600)
    assert report.returncode == 0, report.stderr[-2000:]
    folder = tmp_path / "results" / "own_negatives"
    with open(folder / "paired.csv") as f:
        paired = {(r["dataset"], r["cell"]) for r in csv.DictReader(f)}
    assert {(d, c) for d in ("MUTAG", "PTC_MR")
            for c in ("scaled-b1", "scaled-b4", "scaled-nested")} <= paired
    with open(folder / "pooled.csv") as f:
        pooled = {r["cell"]: r for r in csv.DictReader(f)}
    assert pooled["scaled-nested"]["datasets"] == "MUTAG PTC_MR"
    assert pooled["scaled-nested"]["verdict"] == \
        "too few datasets for a pooled verdict"
