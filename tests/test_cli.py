import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

# The console script installed beside this interpreter (pip's entry point).
HNGRAPH = shutil.which("hngraph", path=str(Path(sys.executable).parent)) \
    or shutil.which("hngraph")


def run_cli(*args, cwd):
    assert HNGRAPH, "the hngraph console script is not installed"
    return subprocess.run([HNGRAPH, *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def test_train_mutag_end_to_end(data_root, tmp_path):
    out = run_cli("train", "--dataset", "MUTAG", "--epochs", "3", "--seed",
                  "1", "--eval-epochs", "2", "--out", str(tmp_path), "--quiet",
                  cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    line = [l for l in out.stdout.splitlines() if l.startswith("accuracy")]
    assert re.fullmatch(r"accuracy 0\.\d{4} ± 0\.\d{4}", line[0])
    files = list(tmp_path.glob("MUTAG_hard-paper_beta1_tau0.5_seed1.json"))
    result = json.loads(files[0].read_text())
    assert result["config"]["epochs"] == 3 and result["seed"] == 1
    assert len(result["loss_history"]) == 3
    assert len(result["fold_accuracies"]) == 10
    assert f"{result['accuracy_mean']:.4f}" in line[0]
    assert 0.5 < result["accuracy_mean"] <= 1.0
    assert set(result["eval_history"]) == {"2"}
    for key in ("commit", "machine", "wall_time_s", "dataset"):
        assert key in result


def test_config_file_and_flag_override(data_root, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"dataset": "MUTAG", "beta": 0,
                                   "tau_plus": 0, "epochs": 50}))
    out = run_cli("train", "--config", str(cfg), "--epochs", "1", "--out",
                  str(tmp_path), "--quiet", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    result = json.loads(next(tmp_path.glob("MUTAG_infograph_*.json")).read_text())
    assert result["config"]["epochs"] == 1 and result["objective"] == "infograph"


def test_bad_config_rejected(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("dataset: MUTAG\nbeta_value: 2\n")
    out = run_cli("train", "--config", str(cfg), cwd=tmp_path)
    assert out.returncode == 2
    assert "unknown key(s) ['beta_value']" in out.stderr
    cfg.write_text("epochs: ten\n")
    out = run_cli("train", "--config", str(cfg), cwd=tmp_path)
    assert out.returncode == 2 and "'epochs' must be int" in out.stderr
    out = run_cli("train", "--tau-plus", "1.0", cwd=tmp_path)
    assert out.returncode == 2 and "tau_plus" in out.stderr
