"""Every Python block of the README and of the user guide runs, every
`hngraph train` line in them parses, and the README's headline is the one
the result files give."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TEXT = README.read_text() + (ROOT / "docs" / "guide.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, re.DOTALL)
COMMANDS = re.findall(r"^(?:.*&& )?hngraph (train .*)$", TEXT, re.MULTILINE)


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
                             capsys, tiny_molhiv):
    # No OGB data can be downloaded here: the OGB example reads a tiny copy
    # in OGB's on-disk format.
    monkeypatch.setenv("HNGRAPH_OGB_DATA", str(tiny_molhiv(tmp_path / "ogb")))
    monkeypatch.chdir(tmp_path)
    exec(compile(BLOCKS[index], f"README block {index}", "exec"), {})
    assert capsys.readouterr().out.strip()


def test_readme_headline_is_the_result_files_answer():
    from headline import headline, written
    assert written(README.read_text()) == headline(), (
        "the README's headline is stale: run python benchmarks/headline.py")
