"""Every Python block of the README runs."""
import re
from pathlib import Path

import pytest
from test_ogb_graphs import tiny_molhiv

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)


COMMANDS = re.findall(r"^(?:.*&& )?hngraph (train .*)$", README.read_text(),
                      re.MULTILINE)


def test_readme_has_examples():
    assert len(BLOCKS) >= 5 and len(COMMANDS) >= 3


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_commands_are_valid(command):
    # Every `hngraph train` line of the README parses, and its settings and
    # config files pass the checks (no training: the parser and the config).
    import shlex

    from hngraph.cli import _train_config, build_parser
    args = build_parser().parse_args(shlex.split(command))
    args.config = args.config and str(README.parent / args.config)
    args.out = "/tmp"
    _train_config(args)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, data_root, tmp_path, monkeypatch,
                             capsys):
    # No OGB data can be downloaded here: the OGB example reads a tiny copy
    # in OGB's on-disk format.
    monkeypatch.setenv("HNGRAPH_OGB_DATA", str(tiny_molhiv(tmp_path / "ogb")))
    monkeypatch.chdir(tmp_path)
    exec(compile(BLOCKS[index], f"README block {index}", "exec"), {})
    assert capsys.readouterr().out.strip()
