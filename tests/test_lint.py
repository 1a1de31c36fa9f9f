"""ruff (configured in pyproject.toml) finds nothing in the project."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_is_clean():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) \
        or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install \".[test]\")")
    out = subprocess.run([ruff, "check", "hngraph", "tests", "benchmarks"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
