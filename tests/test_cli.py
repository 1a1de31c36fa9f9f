import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hngraph import GraphCL, load_model
from hngraph.errors import ConfigKeyError, InvalidValueError

# The console script installed beside this interpreter (pip's entry point).
HNGRAPH = shutil.which("hngraph", path=str(Path(sys.executable).parent)) \
    or shutil.which("hngraph")


def test_train_mutag_end_to_end(data_root, tmp_path, run_cli):
    out = run_cli("train", "--dataset", "MUTAG", "--epochs", "3", "--seed",
                  "1", "--eval-epochs", "2", "--out", str(tmp_path), "--quiet",
                  cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("accuracy")]
    assert re.fullmatch(r"accuracy \d{1,3}\.\d{2} ± \d{1,3}\.\d{2} %", line[0])
    files = list(tmp_path.glob("MUTAG_hard-paper_beta1_tau0.5_seed1_*.json"))
    result = json.loads(files[0].read_text())
    assert result["config"]["epochs"] == 3 and result["seed"] == 1
    assert len(result["loss_history"]) == 3
    assert len(result["fold_accuracies"]) == 10
    assert f"{100 * result['accuracy_mean']:.2f}" in line[0]
    assert 0.5 < result["accuracy_mean"] <= 1.0
    assert set(result["eval_history"]) == {"2"}
    for key in ("commit", "machine", "wall_time_s", "dataset"):
        assert key in result


def test_config_file_and_flag_override(data_root, tmp_path, run_cli):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"dataset": "MUTAG", "beta": 0,
                                   "tau_plus": 0, "epochs": 50}))
    out = run_cli("train", "--config", str(cfg), "--epochs", "1", "--out",
                  str(tmp_path), "--quiet", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    result = json.loads(next(tmp_path.glob("MUTAG_infograph_*.json")).read_text())
    assert result["config"]["epochs"] == 1 and result["tag"] == "infograph"


def test_bad_config_rejected(tmp_path, run_cli):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("dataset: MUTAG\nbeta_value: 2\n")
    out = run_cli("train", "--config", str(cfg), cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.count("c.yaml") == 1  # the file named once
    assert "unknown key(s) 'beta_value' (did you mean 'beta_value'" \
        not in out.stderr  # a suggestion is another key
    assert "unknown key(s) 'beta_value'" in out.stderr
    cfg.write_text("epochs: ten\n")
    out = run_cli("train", "--config", str(cfg), cwd=tmp_path)
    assert out.returncode == 2
    assert "'epochs' must be an integer in [0, 1000000), got 'ten'" in out.stderr
    out = run_cli("train", "--tau-plus", "1.0", cwd=tmp_path)
    assert out.returncode == 2
    assert "--tau-plus must be a finite number in [0, 1) or null, got 1.0" in out.stderr


def test_version_and_missing_dataset(tmp_path, capsys):

    from hngraph.cli import main
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("hngraph ")
    assert main(["train", "--epochs", "1", "--out", str(tmp_path)]) == 2
    assert "--dataset" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_unwritable_cache_is_one_line(data_root, tmp_path, monkeypatch,
                                      capsys):
    from hngraph.cli import main
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("HNGRAPH_CACHE", str(tmp_path / "file"))
    assert main(["train", "--dataset", "MUTAG", "--epochs", "1", "--quiet",
                 "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("hngraph: error: ") and "HNGRAPH_CACHE" in err


def test_unusable_out_fails_before_training(tmp_path, capsys):
    import time

    from hngraph.cli import main
    (tmp_path / "file").write_text("x")
    for out, says in ((tmp_path / "file", "is a file"),
                      (tmp_path / "file" / "sub", "cannot be created")):
        start = time.perf_counter()
        assert main(["train", "--dataset", "NO_SUCH_DATASET", "--out",
                     str(out)]) == 2
        assert says in capsys.readouterr().err
        # The folder is checked first: the unknown dataset is never looked
        # up (that would be a different error).
        assert time.perf_counter() - start < 5


def test_runs_with_other_settings_never_share_a_file(data_root, tmp_path):
    from hngraph.cli import main
    common = ["train", "--dataset", "MUTAG", "--quiet", "--out",
              str(tmp_path)]
    assert main(common + ["--epochs", "2"]) == 0
    assert main(common + ["--epochs", "1", "--lr", "0.01", "--hidden",
                          "16"]) == 0
    results = sorted(tmp_path.glob("*.json"))
    assert len(results) == 2
    configs = [json.loads(p.read_text())["config"] for p in results]
    assert sorted(c["epochs"] for c in configs) == [1, 2]


def test_a_rerun_of_the_same_settings_replaces_nothing_without_overwrite(
        data_root, tmp_path, capsys):
    """The result and model file of a finished run are kept: the rerun stops
    before training (exit 2, naming the file and the flag); --overwrite
    trains again and replaces both."""
    from hngraph.cli import main
    common = ["train", "--dataset", "MUTAG", "--quiet", "--epochs", "1",
              "--out", str(tmp_path)]
    assert main(common) == 0
    [result] = tmp_path.glob("*.json")
    [model] = tmp_path.glob("*.pt")
    kept = (result.read_bytes(), model.read_bytes())
    capsys.readouterr()
    assert main(common) == 2
    err = capsys.readouterr().err
    assert str(result) in err and "--overwrite" in err
    assert (result.read_bytes(), model.read_bytes()) == kept
    assert main(common + ["--overwrite"]) == 0
    assert "replacing the result of an earlier run" in capsys.readouterr().out
    assert json.loads(result.read_text())["wall_time_s"] != json.loads(
        kept[0])["wall_time_s"]


def test_usage_errors_are_one_line(tmp_path, capsys):
    from hngraph.cli import main
    cfg = tmp_path / "c.yaml"
    cfg.write_text("dataset: MUTAG\nepochs: [1\n")
    assert main(["train", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "c.yaml, line 3 is not valid YAML" in err
    assert main(["train", "--dataset", "MUTAG", "--device", "tpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--device must be auto, cpu" in err


@pytest.mark.slow
def test_help_answers_without_torch(tmp_path):
    out = subprocess.run(
        [sys.executable, "-c", "import sys; from hngraph.cli import main\n"
         "try:\n    main(['train', '--help'])\nexcept SystemExit:\n    pass\n"
         "print('torch' in sys.modules)"], capture_output=True, text=True,
        cwd=tmp_path, timeout=60)
    assert out.stdout.strip().endswith("False")
    assert "(default: 200)" in out.stdout and "one-hot degree" in out.stdout
    assert "0.5 for jsd and 0.1 for infonce" in " ".join(out.stdout.split())


@pytest.mark.slow
def test_ctrl_c_stops_with_130_and_one_line(data_root, tmp_path):
    import os
    import signal
    import time
    proc = subprocess.Popen(
        [sys.executable, "-m", "hngraph.cli", "train", "--dataset", "PROTEINS",
         "--epochs", "500", "--out", str(tmp_path), "--quiet",
         "--checkpoint-every", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        # as from a terminal: a shell's background job (CI under nohup ...
        # &) ignores SIGINT, and its children would inherit that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # the first checkpoint says that training runs: interrupt it then
    deadline = time.time() + 600
    while not list(tmp_path.glob("*.train.pt")) and time.time() < deadline \
            and proc.poll() is None:
        time.sleep(0.05)
    assert list(tmp_path.glob("*.train.pt")), "training never started"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip().splitlines() == [
        "hngraph: interrupted; finished result files are kept, nothing "
        "half-written is left."]
    assert not list(tmp_path.rglob("*.tmp"))


@pytest.mark.slow
def test_ctrl_c_in_the_svm_stage_stops_with_130_and_one_line(data_root,
                                                              tmp_path):
    """A real SIGINT to the process group, as a terminal sends it, while
    the SVM stage's threads run (no training: 0 epochs, 30 outer splits of
    PROTEINS, minutes of SVM fits)."""
    import os
    import signal
    import time
    proc = subprocess.Popen(
        [sys.executable, "-m", "hngraph.cli", "train", "--dataset", "PROTEINS",
         "--epochs", "0", "--repeats", "30", "--out", str(tmp_path),
         "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(15)  # past loading, well inside the SVM stage
    assert proc.poll() is None, proc.communicate()
    os.killpg(proc.pid, signal.SIGINT)
    start = time.time()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert time.time() - start < 20
    assert err.strip().splitlines() == [
        "hngraph: interrupted; finished result files are kept, nothing "
        "half-written is left."]
    assert not list(tmp_path.iterdir())  # no result, no model, no tmp


def test_cli_infonce_trains_and_saves(data_root, tmp_path, run_cli):
    out = run_cli("train", "--dataset", "MUTAG", "--objective", "infonce",
                  "--beta", "1", "--tau-plus", "0.1", "--epochs", "2", "--out",
                  tmp_path, "--quiet", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    result = json.loads(next(tmp_path.glob("MUTAG_infonce-hard_*.json")).read_text())
    assert result["config"]["objective"] == "infonce"
    model = load_model(result["model_file"])
    assert isinstance(model, GraphCL) and model.feature_recipe["dim"] == 7


def test_renamed_choice_warns_in_one_line(tmp_path, run_cli):
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = run_cli("train", "--dataset", "MUTAG", "--reweight", "reference",
                  "--out", blocker, cwd=tmp_path)
    lines = out.stderr.splitlines()
    assert lines[0] == ("hngraph: warning: --reweight: 'reference' is renamed "
                        "'hcl-code'; the old name will be removed in a later "
                        "release.")
    assert out.returncode == 2 and lines[1].startswith("hngraph: error: ")


def test_help_prints_every_true_default(capsys):
    """Each flag's printed default, read back, is TrainConfig's (1 is not
    printed as true, nor 0 as false)."""
    import dataclasses

    from hngraph.cli import main
    from hngraph.config import TrainConfig
    try:
        main(["train", "--help"])
    except SystemExit:
        pass
    text = " ".join(capsys.readouterr().out.split()).split("options:")[1]
    for f in dataclasses.fields(TrainConfig):
        if f.name == "dataset":
            continue
        default = f.default if f.default is not dataclasses.MISSING \
            else f.default_factory()
        shown = re.search(rf"--{f.name.replace('_', '-')}\b.*?\(default: "
                          r"([^()]*)\)", text)
        assert shown, f.name
        read = yaml.safe_load(shown.group(1))
        # True == 1 in Python: the type must agree too
        assert read == default and isinstance(read, bool) == isinstance(
            default, bool), (f.name, shown.group(1))


def test_a_config_key_may_depend_on_a_flag(tmp_path, run_cli):
    """`temperature` applies to the infonce objective only; in the file,
    with the objective given as a flag, the two are checked together."""
    config = tmp_path / "c.yaml"
    config.write_text("dataset: MUTAG\ntemperature: 0.2\n")
    from hngraph.cli import _train_config, build_parser
    args = build_parser().parse_args(["train", "--config", str(config),
                                      "--objective", "infonce", "--out",
                                      str(tmp_path)])
    assert _train_config(args).temperature == 0.2
    refused = run_cli("train", "--config", config, "--out", tmp_path)
    assert refused.returncode == 2
    assert "applies to objective 'infonce' only" in refused.stderr


def test_an_empty_config_path_is_refused(tmp_path, run_cli):
    done = run_cli("train", "--config", "", "--dataset", "MUTAG", "--out",
                   tmp_path)
    assert done.returncode == 2
    assert "the config file is an empty path" in done.stderr
    assert not list(tmp_path.iterdir())  # nothing trained


@pytest.mark.parametrize("error,first_line,code", [
    (IndexError("index 7 is out of bounds"),
     "hngraph: internal error: IndexError: index 7 is out of bounds", 1),
    (MemoryError("Unable to allocate 7.28 TiB"),
     "hngraph: internal error: MemoryError: Unable to allocate 7.28 TiB", 1),
    (RuntimeError("CUDA error: device-side assert"),
     "hngraph: internal error: RuntimeError: CUDA error", 1),
    (ValueError("could not convert string to float: 'x'"),
     "hngraph: internal error: ValueError: could not convert", 1),
    (OSError(17, "File exists"),
     "hngraph: internal error: FileExistsError: [Errno 17] File exists", 1),
    (InvalidValueError("--epochs must be >= 0, got -1."),
     "hngraph: error: --epochs must be >= 0, got -1.", 1),
    (ConfigKeyError("c.yaml: unknown key(s) ['x']"),
     "hngraph: error: c.yaml: unknown key(s) ['x']", 1),
])
def test_the_error_boundary_tells_a_bug_from_a_users_error(
        run_cli, monkeypatch, error, first_line, code):
    import hngraph.cli
    from hngraph.errors import OutLockedError

    def fail(args):
        raise error
    monkeypatch.setattr(hngraph.cli, "_embed", fail)
    done = run_cli("embed", "--model", "m.pt", "--input", "g", "--out", "e")
    assert done.returncode == code
    assert done.stderr.startswith(first_line)
    if "internal" in first_line:
        assert "this is a bug in hngraph; please report it" in done.stderr
        assert "--debug" in done.stderr
    else:
        assert len(done.stderr.splitlines()) == 1
    assert isinstance(OutLockedError("x"), RuntimeError)  # hngraph's own


def test_a_grid_run_that_fails_is_told_as_the_boundary_tells_it(tmp_path):
    from hngraph.runs.grid import Run, record_failure

    run = Run("MUTAG", "cell", 3)
    told = {type(err): record_failure(tmp_path, run, err)["error"]
            for err in (InvalidValueError("folds must be <= 4, got 10."),
                        IndexError("index 7 is out of bounds"))}
    assert told == {InvalidValueError: "folds must be <= 4, got 10.",
                    IndexError: "internal error: IndexError: index 7 is out "
                    "of bounds"}
    saved = json.loads(run.files(tmp_path).failure.read_text())
    assert saved["seed"] == 3 and "IndexError" in saved["traceback"]


@pytest.mark.parametrize("device,says", [
    ("banana", "hngraph: error: --device must be auto, cpu, cuda (or "
     "cuda:N), mps or xpu, got 'banana'."),
    ("cuda", "hngraph: error: --device cuda: device 'cuda' was asked for, "
     "but torch sees no CUDA GPU here."),
])
def test_embed_names_a_device_that_is_not_there(tmp_path, run_cli, device,
                                                says):
    """The flag's error, exit 2, before the model file is read (a device
    error was once reported as an unreadable model file)."""
    import torch
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    done = run_cli("embed", "--model", tmp_path / "absent.pt", "--input",
                   tmp_path, "--out", tmp_path / "e.npy", "--device", device)
    assert done.returncode == 2
    assert done.stderr.startswith(says)


def test_embed_names_a_file_that_is_not_there(tmp_path, capsys):
    from hngraph.cli import main
    (tmp_path / "m.pt").write_text("x")
    for flag in ("--model", "--input"):
        files = {"--model": tmp_path / "m.pt", "--input": tmp_path}
        files[flag] = tmp_path / "absent"
        assert main(["embed", "--model", str(files["--model"]), "--input",
                     str(files["--input"]), "--out",
                     str(tmp_path / "e.npy")]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"hngraph: error: {flag} {tmp_path}/absent "
                              "does not exist; give ")
    assert not (tmp_path / "e.npy").exists()


def test_embed_never_writes_over_its_model(tmp_path, run_cli):
    """--out names the .npy file written (.npy added when missing): a model
    file of that name is refused, not replaced."""
    model = tmp_path / "m.npy"
    model.write_bytes(b"model")
    (tmp_path / "graphs").mkdir()
    for out in (model, tmp_path / "m"):
        done = run_cli("embed", "--model", model, "--input",
                       tmp_path / "graphs", "--out", out)
        assert done.returncode == 2
        assert f"would write {model}, which is --model: the input would " \
            "be lost" in done.stderr
    assert model.read_bytes() == b"model"


def test_a_seed_beyond_the_generators_is_a_usage_error(tmp_path, run_cli):
    """NumPy's and PyTorch's generators take seeds below 2**32: a larger
    one is the flag's error (exit 2), before any data is read."""
    done = run_cli("train", "--dataset", "MUTAG", "--seed", 2 ** 32,
                   "--out", tmp_path)
    assert done.returncode == 2
    assert done.stderr == ("hngraph: error: --seed must be an integer in "
                           "[0, 4294967296), got 4294967296.\n")


@pytest.mark.parametrize("args", [["train", "--help"],
                                  ["grid", "run", "CONFIG", "--dry-run"]])
def test_a_reader_that_stops_early_ends_the_command_quietly(args, tmp_path,
                                                            data_root):
    """`hngraph ... | head -1`: exit 141 (as SIGPIPE gives Unix tools),
    nothing on stderr, never an internal error."""
    import os

    config = tmp_path / "g.yaml"
    config.write_text("epochs: 1\nseeds: [0, 1]\ndatasets: [MUTAG]\n"
                      f"out: {tmp_path / 'out'}\ncells:\n"
                      "  a: {beta: 0, tau_plus: 0}\n")
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line
    proc = subprocess.run(
        [sys.executable, "-m", "hngraph.cli",
         *[str(config) if a == "CONFIG" else a for a in args]],
        stdout=write, stderr=subprocess.PIPE, text=True, timeout=300)
    os.close(write)
    assert proc.stderr == ""
    # help is written at exit, whose failed flush Python itself keeps quiet
    assert proc.returncode == (0 if "--help" in args else 141)
