"""The committed grid reports are what the committed result files give:
each grid's RESULTS.md and CSV files, regenerated in memory and compared
byte for byte (``hngraph grid report CONFIG`` rewrites them)."""
import csv
import io
from pathlib import Path

import pytest

from hngraph.runs.grid import GridConfig
from hngraph.runs.report import CSV_HEADERS, load_runs, report

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("config", ["configs/verdict.yaml",
                                    "configs/graphcl_table.yaml"])
def test_the_committed_report_is_the_result_files_report(config, data_root,
                                                         monkeypatch):
    monkeypatch.chdir(ROOT)  # the config's paths are the repository's
    grid = GridConfig.from_yaml(config)
    frame, skipped = load_runs(grid)
    made = report(grid, frame, skipped, f"hngraph grid report {config}")
    stale = f"stale: run hngraph grid report {config}"
    assert (grid.out_path / "RESULTS.md").read_text() == made.text, stale
    for name, rows in made.csv.items():  # runs.csv too
        table = io.StringIO(newline="")
        csv.writer(table).writerows([CSV_HEADERS[name], *rows])
        with open(grid.out_path / f"{name}.csv", newline="") as f:
            assert f.read() == table.getvalue(), (name, stale)


def test_benchmarks_readme_lists_every_script():
    """Each script of benchmarks/ has its row in benchmarks/README.md, and
    each row names a script that is there."""
    import re
    text = (ROOT / "benchmarks" / "README.md").read_text()
    listed = set(re.findall(r"^\| `([\w.]+\.(?:py|sh))`", text, re.MULTILINE))
    scripts = {p.name for p in (ROOT / "benchmarks").iterdir()
               if p.suffix in (".py", ".sh")}
    assert listed == scripts


def test_every_results_folder_has_its_manifest():
    from manifests import main
    assert main(["--check"]) == 0, "run python benchmarks/manifests.py"


def test_the_committed_single_reports_are_their_files_reports(tmp_path,
                                                              monkeypatch):
    """SPEED.md, SCALING.md, the molecules' RESULTS.md, and SELECTION.md
    with selection.csv, regenerated from the committed files beside them."""
    import shutil

    import infograph_selection
    import molecules
    import scaling
    import speed
    monkeypatch.chdir(ROOT)
    results = ROOT / "benchmarks" / "results"

    def same(path: Path, made: str, command: str):
        assert path.read_text() == made, f"stale: run {command}"

    same(results / "speed" / "SPEED.md", speed.report(results / "speed"),
         "python benchmarks/speed.py --report-only")
    same(results / "molecules" / "RESULTS.md",
         molecules.report(results / "molecules"),
         "python benchmarks/molecules.py --report-only")
    shutil.copytree(results / "scaling", tmp_path / "scaling")
    scaling.report(tmp_path / "scaling")  # it writes its page
    same(results / "scaling" / "SCALING.md",
         (tmp_path / "scaling" / "SCALING.md").read_text(),
         "python benchmarks/scaling.py --report-only")
    config = "configs/infograph_selection.yaml"
    grid = GridConfig.from_yaml(config)
    epochs = Path("benchmarks/results/epochs")
    same(grid.out_path / "SELECTION.md",
         infograph_selection.report(grid, config, epochs),
         "python benchmarks/infograph_selection.py")
    table = io.StringIO(newline="")
    csv.writer(table).writerows([infograph_selection.CSV_HEADER,
                                 *infograph_selection.best_rows(grid,
                                                                epochs)])
    with open(grid.out_path / "selection.csv", newline="") as f:
        assert f.read() == table.getvalue(), \
            "stale: run python benchmarks/infograph_selection.py"


@pytest.mark.parametrize("config", ["configs/verdict.yaml",
                                    "configs/graphcl_table.yaml"])
def test_bayes_md_is_of_the_reports_finished_datasets(config, data_root,
                                                      monkeypatch):
    """BAYES.md (sampled, so not rebuilt here) cross-checks each primary
    comparison over the datasets the report pools now, and RESULTS.md
    links it."""
    import re
    monkeypatch.chdir(ROOT)
    grid = GridConfig.from_yaml(config)
    bayes = grid.out_path / "BAYES.md"
    if not bayes.exists():
        pytest.skip(f"{config} has no BAYES.md")
    frame, skipped = load_runs(grid)
    made = report(grid, frame, skipped, f"hngraph grid report {config}")
    assert "[BAYES.md](BAYES.md)" in made.text
    rows = re.findall(r"^\| ([\w-]+) \| [\w-]+ \| ([^|]+) \|",
                      bayes.read_text(), re.MULTILINE)
    assert rows
    for cell, datasets in rows:
        if cell == "cell":
            continue
        assert datasets.strip().split(", ") == made.pools[cell]["datasets"], \
            f"stale: run python benchmarks/bayes_crosscheck.py {config}"
