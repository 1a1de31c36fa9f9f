"""The grid runner: a failing run is recorded and the others go on."""
import json

import paper_table
import yaml


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
