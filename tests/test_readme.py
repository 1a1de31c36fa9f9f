"""Every Python block of the README runs."""
import re
from pathlib import Path

import pytest
from test_ogb import tiny_molhiv

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)


def test_readme_has_examples():
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, data_root, tmp_path, monkeypatch,
                             capsys):
    # No OGB data can be downloaded here: the OGB example reads a tiny copy
    # in OGB's on-disk format.
    monkeypatch.setenv("HNGRAPH_OGB_DATA", str(tiny_molhiv(tmp_path / "ogb")))
    monkeypatch.chdir(tmp_path)
    exec(compile(BLOCKS[index], f"README block {index}", "exec"), {})
    assert capsys.readouterr().out.strip()
