"""Smoke tests of the speed and scaling scripts: a part runs end to end
into its JSON file and report, and the bytes formula against a hand
computation."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize("part", ["views", "overhead"])
def test_a_speed_part_writes_its_file_and_report(data_root, tmp_path, part):
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "speed.py"), "--parts",
         part, "--datasets", "MUTAG", "--repeats", "1", "--batches", "1",
         "--out", str(tmp_path)], capture_output=True, text=True,
        timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / f"{part}.json").read_text())
    assert result["meta"]["commit"] and result["meta"]["machine"]
    assert (tmp_path / "SPEED.md").read_text().count("MUTAG") >= 1


def test_scaling_bytes_formula_by_hand():
    from scaling import formula_bytes
    # W = 2: ring 2 (W-1)/W = 1; gradients 4 P = 400; embeddings (1 + 1)
    # (W-1) 4 G_r D + 16 = 2 * 4 * 4 * 8 + 16 = 272; batch norm
    # L (1 + 1) (W-1) 4 (2C + 1) = 2 * 2 * 4 * 7 = 112.
    terms = formula_bytes(params=100, local_graphs=4, dim=8, layers=2,
                          width=3, world=2)
    assert terms == {"gradients": 400.0, "graph_embeddings": 272,
                     "batch_norm": 112, "total": 784.0}
    gloo = formula_bytes(100, 4, 8, 2, 3, 2, reduce_scatter=2.0)
    assert gloo["graph_embeddings"] == 3 * 4 * 4 * 8 + 16


def test_the_sklearnex_backend_is_hngraphs_path_with_sklearn_patched(
        tmp_path, monkeypatch):
    """speed.py's oneDAL backend runs hngraph's own ``method="sklearn"``
    after sklearnex's patch: with a stand-in sklearnex whose patch changes
    nothing, it scores exactly as that path here."""
    import numpy as np
    from speed import sklearnex_svm

    from hngraph.eval.scoring import svm_accuracy
    (tmp_path / "sklearnex").mkdir()
    (tmp_path / "sklearnex" / "__init__.py").write_text(
        "def patch_sklearn(*names):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 30)
    x = rng.normal(size=(60, 4)) + y[:, None]
    got, seconds = sklearnex_svm(x, y, 0)
    want = svm_accuracy(x, y, seed=0, method="sklearn")
    assert got == want and seconds > 0


def test_infonce_runs_names_the_model_file_train_writes(tmp_path):
    """benchmarks/infonce_runs.sh embeds with the model file that its
    `hngraph train` line writes (named with the settings' key)."""
    import fnmatch
    import re

    from hngraph.config import TrainConfig
    from hngraph.results import run_files
    from hngraph.runs.experiment import run_stem
    script = (ROOT / "benchmarks" / "infonce_runs.sh").read_text()
    pattern = re.search(r'--model "\$\(ls "\$out"/(\S+) \|', script).group(1)
    config = TrainConfig(dataset="IMDB-BINARY", epochs=20, seed=0,
                         out="embed")
    written = run_files(config.out, run_stem(config)).model
    assert fnmatch.fnmatch(str(written), pattern), (written, pattern)
