"""Command line: ``hngraph train``, ``hngraph embed`` and ``hngraph grid``.

torch and PyG are imported only once a command runs, so ``--help``,
``--version`` and argument errors answer at once. Every failure is one line,
``hngraph: error: <what and how to fix>`` (a warning:
``hngraph: warning: ...``), with exit status 2 for a usage
error (a flag, a config file, an output folder) and 1 for a failure while
running; ``--debug`` shows the traceback instead. Only hngraph's own errors
(``hngraph.errors.HngraphError``) are printed so: errors that a user
can cause in a call to another library (the file system, YAML, torch,
NumPy) are translated into them where the call is made. Any other
exception is a bug: it is reported as ``hngraph: internal error: TYPE:
message``, with a request to report it and the ``--debug`` hint.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import warnings
from pathlib import Path

from .config import TrainConfig, check_setting, output_folder, user_path
from .constraints import (
    IMPORT_PATH,
    Interval,
    ListOf,
    Nullable,
    OfType,
    Options,
    check,
)
from .errors import BUG_REPORT, HngraphError, describe
from .registry import EXECUTORS
from .runs.executors import STAGES, SlurmSettings


class UsageError(HngraphError, ValueError):
    """A command line that cannot run as given (exit status 2)."""


def _train_parser(sub) -> None:
    p = sub.add_parser(
        "train", help="train an encoder, score it with the SVM protocol",
        description="Train a GIN encoder with the (hard-negative) InfoGraph "
        "objective on a TUDataset, then score its graph embeddings with an "
        "RBF SVM under 10-fold cross-validation. Flags override --config.")
    p.add_argument("--config", help="YAML config file (see configs/)")
    for f in dataclasses.fields(TrainConfig):
        _add_setting_flag(p, f)
    p.add_argument("--nproc", type=int, default=1,
                   help="train in N processes with DDP (torchrun on this "
                   "machine): gloo on the CPU, nccl on GPUs; --batch-size "
                   "is per process, negatives come from all processes "
                   "(default: 1)")
    p.add_argument("--restart", action="store_true",
                   help="train from the start over an existing training "
                   "checkpoint of the same run")
    p.add_argument("--overwrite", action="store_true",
                   help="train again and replace the result and model file "
                   "of an earlier run with the same settings in --out "
                   "(without it, such a run stops before training)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_setting_flag(parser, f) -> None:
    """The flag of a :class:`TrainConfig` setting, from its declaration;
    it overrides the config file, and the config checks its value."""
    constraint = f.metadata["constraint"]
    inner = constraint.inner if isinstance(constraint, Nullable) \
        else constraint
    flag = "--" + f.name.replace("_", "-")
    default = f.default if f.default is not dataclasses.MISSING \
        else f.default_factory()
    text = f"{f.metadata['help']} (default: {_yaml_text(default)})"
    if f.name == "dataset":
        text = f.metadata["help"]
    if isinstance(inner, OfType) and inner.kind is bool:
        parser.add_argument(flag, dest=f.name, action="store_true",
                            default=None, help=text)
    elif isinstance(inner, ListOf):
        parser.add_argument(flag, dest=f.name, type=_number(int), nargs="*",
                            help=text)
    else:
        kind = _number(inner.kind) if isinstance(inner, Interval) else str
        names = [v for o in getattr(inner, "options", (inner,))
                 if isinstance(o, Options) for v in o.values]
        plugin = IMPORT_PATH in getattr(inner, "options", ())
        metavar = "{" + ",".join(names + ["MODULE:CLASS"] * plugin) + "}" \
            if names else None
        parser.add_argument(flag, dest=f.name, type=kind, metavar=metavar,
                            help=text)


def _number(kind: type):
    """An argparse type: ``kind(text)``, or the text itself where it is no
    number, so that the config's check gives the one error message."""
    def parse(text: str):
        try:
            return kind(text)
        except ValueError:
            return text
    parse.__name__ = kind.__name__
    return parse


def _yaml_text(value) -> str:
    """A default as it would be written in a YAML config (``1`` stays
    ``1``: only ``None`` and the booleans are spelt as YAML spells them)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _train_config(args) -> TrainConfig:
    """The run's config from ``--config`` and the flags (usage errors)."""
    overrides = {f.name: getattr(args, f.name)
                 for f in dataclasses.fields(TrainConfig)}
    try:
        for name, value in overrides.items():
            if value is not None:
                flag = "--" + name.replace("_", "-")
                overrides[name] = check_setting(name, value, label=flag)
                if name == "out":  # paths, named as the flag
                    output_folder(value, flag)
                elif name == "root":
                    user_path(value, flag, kind="folder")
        if args.config is not None:
            config = TrainConfig.from_yaml(args.config, **overrides)
            named = TrainConfig.names_dataset(args.config)
        else:
            config = TrainConfig.from_dict(
                {k: v for k, v in overrides.items() if v is not None},
                "flags")
            named = False
    except HngraphError as err:
        raise UsageError(str(err)) from err
    if args.dataset is None and not named:
        raise UsageError("no dataset given: pass --dataset NAME (for example "
                         "--dataset MUTAG), or a --config file with a "
                         "'dataset' key.")
    _check_output_folder(Path(config.out))
    return config


def _train(args) -> int:
    config = _train_config(args)
    from .distributed import launched_by_torchrun
    from .results import atomic_write_json, run_files
    from .runs.experiment import run_experiment, run_stem
    files = run_files(config.out, run_stem(config))
    if files.result.exists() and not args.overwrite:
        raise UsageError(
            f"{files.result} holds the result of an earlier run with these "
            "settings. Pass --overwrite to train again and replace it (and "
            f"{files.model.name}), or give another --out.")
    if args.nproc > 1 and not launched_by_torchrun():
        return _launch(args, config)
    result, model = run_experiment(config, progress=not args.quiet,
                                   restart=args.restart, files=files)
    if result is None:  # a DDP worker other than rank 0
        return 0
    path, weights = files.result, files.model
    replaced = path.exists()  # with --overwrite
    model.save(weights)
    result["model_file"] = str(weights)
    result["command"] = ["hngraph", *args.argv]
    atomic_write_json(path, result)
    procs = (f" in {result['processes']} processes"
             if result["processes"] > 1 else "")
    print(f"{config.dataset} {config.tag} beta={config.beta:g} "
          f"tau_plus={config.tau_plus:g} seed={config.seed}: "
          f"{config.epochs} epochs{procs} in {result['wall_time_s']:.1f} s")
    print(f"accuracy {100 * result['accuracy_mean']:.2f} ± "
          f"{100 * result['accuracy_std']:.2f} %")
    print(f"result written to {path}, model to {weights}"
          + (" (replacing the result of an earlier run with the same "
             "settings)" if replaced else ""))
    return 0


def _check_output_folder(out: Path, name: str = "--out",
                         create: bool = True) -> None:
    """Fail before any training when the results could not be written;
    ``name`` is the flag or key that gave ``out``. Without ``create`` (a
    dry run) nothing is made: the nearest folder that exists must be
    writable."""
    try:
        if out.exists() and not out.is_dir():
            raise UsageError(f"{name} {out} is a file, not a folder. Give a "
                             "folder for the results (it is created if "
                             "needed).")
        if create:
            out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"{name} {out} cannot be created ({err.strerror}). "
                         "Give a folder you can write to.") from err
    there = next(p for p in (out, *out.absolute().parents) if p.exists())
    if not there.is_dir() or not os.access(there, os.W_OK | os.X_OK):
        raise UsageError(f"{name} {out} is not writable. Give a folder you "
                         "can write to, or change its permissions.")


def _launch(args, config: TrainConfig) -> int:
    """Check what can be checked here, build the processed dataset once,
    then start ``args.nproc`` DDP workers."""
    import torch

    from .distributed import resolve_device
    from .launch import launch
    from .runs.experiment import load_dataset
    device = resolve_device(config.device)
    if device.type == "cuda" and torch.cuda.device_count() < args.nproc:
        raise UsageError(f"--nproc {args.nproc} on CUDA needs {args.nproc} "
                         f"GPUs, but torch sees {torch.cuda.device_count()}.")
    load_dataset(config)
    return launch(args.argv, args.nproc)


def _embed_parser(sub) -> None:
    p = sub.add_parser(
        "embed", help="embed your own graphs with a trained model",
        description="Embed graphs with a model file written by `hngraph "
        "train` (or model.save) and write a NumPy array [graphs, dim].")
    p.add_argument("--model", required=True,
                   help="model file (.pt) of `hngraph train` or model.save")
    p.add_argument("--input", required=True, help="a .pkl list of networkx "
                   "graphs or PyG Data, or a folder of .graphml/.gml/"
                   ".edgelist/.adjlist files")
    p.add_argument("--out", required=True, help="output .npy file (.npy "
                   "is added when missing)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing --out file (and its .rows.txt; "
                   "refused otherwise)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--device", default="cpu")
    p.add_argument("--encoder", metavar="MODULE:CALLABLE",
                   help="for a model built on your own encoder: the class "
                   "(or a function) that builds a new one with no "
                   "arguments, for example my_encoders:MyGIN (default: the "
                   "class the model file records)")
    p.add_argument("--node-attrs", nargs="+", metavar="NAME",
                   help="networkx inputs: the node attributes that make the "
                   "node features, in order (default: every attribute all "
                   "nodes have, sorted)")


def _embed(args) -> int:
    import time

    from .data.graphs import graph_files, read_graphs
    from .distributed import resolve_device
    from .eval.embedding import EMBED_PARAMS, embed
    from .nn.models import load_model
    from .results import atomic_write_npy, atomic_write_text
    start = time.perf_counter()
    try:  # every flag first: a device that is not here is not the file's
        device = check_setting("device", args.device, label="--device")
        check(EMBED_PARAMS["batch_size"], args.batch_size, "--batch-size")
        out = user_path(args.out, "--out", kind="file")
        source = user_path(args.input, "--input")
        model = user_path(args.model, "--model", kind="file")
    except HngraphError as err:
        raise UsageError(err) from err
    try:
        device = resolve_device(device)
    except HngraphError as err:
        raise UsageError(f"--device {args.device}: {err}") from err
    for flag, path, give in (
            ("--model", model, "the .pt file that `hngraph train` or "
             "model.save wrote"),
            ("--input", source, "a .pkl file or a folder of graph files")):
        if not path.exists():
            raise UsageError(f"{flag} {path} does not exist; give {give}.")
    out = out if out.suffix == ".npy" else out.with_name(out.name + ".npy")
    rows_file = out.with_name(out.stem + ".rows.txt")
    for written in (out, rows_file) if source.is_dir() else (out,):
        for flag, path in (("--model", model), ("--input", source)):
            if written.resolve() == path.resolve():
                raise UsageError(
                    f"--out {args.out} would write {written}, which is "
                    f"{flag}: the input would be lost. Give another --out.")
        if written.exists() and not args.overwrite:
            raise UsageError(
                f"--out {args.out} would replace {written}, which exists. "
                "Give another --out, or pass --overwrite to replace it.")
    if args.encoder is not None:
        model = load_model(model, map_location=device,
                           encoder=_encoder(args.encoder))
    graphs = read_graphs(source)
    emb = embed(model, graphs, batch_size=args.batch_size, device=device,
                node_attrs=args.node_attrs)
    atomic_write_npy(out, emb)
    rows = ""
    if source.is_dir():  # a row name per file
        names = atomic_write_text(rows_file, "".join(
            f"{p.name}\n" for p in graph_files(source)))
        rows = f", row names -> {names}"
    print(f"embedded {emb.shape[0]} graphs (dim {emb.shape[1]}) in "
          f"{time.perf_counter() - start:.2f} s -> {out}{rows}")
    return 0


def _encoder(spec: str):
    """The encoder that ``--encoder MODULE:CALLABLE`` builds."""
    from .plugins import build_module
    try:
        return build_module(spec, "--encoder")
    except HngraphError as err:
        raise UsageError(err) from err


def _grid_parser(sub) -> None:
    p = sub.add_parser(
        "grid", help="run a grid of runs, or report it",
        description="Run every (dataset, cell, seed) of a grid config, one "
        "result file per finished run (a rerun skips them), or write its "
        "paired report. See docs/grids.md.")
    actions = p.add_subparsers(dest="action", required=True)
    run = actions.add_parser("run", help="train the runs not finished yet",
                             description="Train the grid's runs that have "
                             "no result file under the current settings, "
                             "then its selections.")
    run.add_argument("config", help="grid config file (see configs/)")
    run.add_argument("--datasets", nargs="*", help="only these datasets")
    run.add_argument("--cells", nargs="*", help="only these cells or "
                     "selections")
    run.add_argument("--seeds", nargs="*", type=_number(int),
                     help="only these seeds")
    run.add_argument("--jobs", type=_number(int), default=1,
                     help="runs in parallel, each in its own process "
                     "(default: 1)")
    run.add_argument("--threads", type=_number(int), help="torch threads "
                     "per run (default: cores / jobs)")
    run.add_argument("--device", help="auto, cpu or cuda (default: the "
                     "config's, else auto)")
    run.add_argument("--dry-run", action="store_true",
                     help="list the runs to do and the hours they would "
                     "take (from the result files' wall times), write "
                     "nothing, and exit; works while a runner runs")
    run.add_argument("--allow-dirty", action="store_true",
                     help="run from a source tree with uncommitted changes "
                     "(refused otherwise; every result file records it)")
    run.add_argument("--out", help="the folder of the result files "
                     "(default: the config's out)")
    run.add_argument("--share-out", action="store_true",
                     help="write into an out folder that another grid (of "
                     "another name) writes into, on purpose (the config's "
                     "shares_out says so for good)")
    run.add_argument("--replace-other-settings", action="store_true",
                     help="replace result files written under other "
                     "settings than the grid's now (refused otherwise: "
                     "their results would be lost)")
    run.add_argument("--stage", choices=STAGES, default="all",
                     help="all: train, score and record each run; train: "
                     "train and keep its embeddings; score: score what "
                     "was trained so (default: all)")
    run.add_argument("--executor", choices=EXECUTORS.names, default="local",
                     help="local: --jobs processes here; ray: Ray tasks "
                     "(pip install \"hngraph[ray]\"); slurm: a SLURM job "
                     "array through submitit (pip install "
                     "\"hngraph[slurm]\") (default: local)")
    run.add_argument("--address", help="ray: the cluster's address "
                     "(default: a local Ray instance)")
    for f in dataclasses.fields(SlurmSettings):
        if "constraint" in f.metadata:
            run.add_argument("--slurm-" + f.name.replace("_", "-"),
                             dest="slurm_" + f.name, type=_number(
                                 f.metadata["constraint"].inner.kind
                                 if isinstance(f.metadata["constraint"],
                                               Nullable)
                                 else getattr(f.metadata["constraint"],
                                              "kind", str)),
                             help=f"slurm: {f.metadata['help']}" + (
                                 "" if f.default in (None, "") else
                                 f" (default: {_yaml_text(f.default)})")
                             + "; overrides the config's slurm section")
    report = actions.add_parser("report", help="write the paired report",
                                description="Write the grid's paired "
                                "report (Markdown, CSV, plot) into its out "
                                "folder.")
    report.add_argument("config", help="grid config file (see configs/)")
    report.add_argument("--out", help="the folder of the result files, "
                        "where the report is written too (default: the "
                        "config's out)")


def _grid(args) -> int:
    from .errors import DirtySourceError, OutTakenError
    from .runs.grid import GridConfig, plan, run_grid

    out_flag = getattr(args, "out", None) is not None
    try:
        if out_flag:  # named as the flag, before the grid takes it as its out
            user_path(args.out, "--out", kind="folder")
        grid = GridConfig.from_yaml(args.config)
        if out_flag:
            grid = dataclasses.replace(grid, out=args.out)
    except HngraphError as err:
        raise UsageError(str(err)) from err
    if args.action == "report":
        from .runs.report import write_report

        paths = write_report(grid, f"hngraph grid report {args.config}")
        print("wrote " + ", ".join(map(str, paths)))
        return 0
    for flag in ("jobs", "threads"):
        value = getattr(args, flag)
        if value is not None:
            try:
                check(Interval(int, 1, 2 ** 16), value, f"--{flag}")
            except HngraphError as err:
                raise UsageError(str(err)) from err
    _check_output_folder(grid.out_path, "--out" if out_flag else
                         f"{args.config}: out", create=not args.dry_run)
    try:
        if args.device is not None:
            check_setting("device", args.device, label="--device")
        runs = plan(grid, datasets=args.datasets, cells=args.cells,
                    seeds=args.seeds)
        executor = None if args.dry_run else _executor(args, grid)
    except HngraphError as err:  # an ExecutorUnavailable too
        raise UsageError(err) from err
    # SIGTERM as Ctrl-C: the executor cancels what it submitted
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        failures = run_grid(grid, runs, jobs=args.jobs, threads=args.threads,
                            device=args.device,
                            dry_run=args.dry_run, allow_dirty=args.allow_dirty,
                            stage=args.stage, executor=executor,
                            share_out=args.share_out,
                            replace_other_settings=args.replace_other_settings)
    except (DirtySourceError, OutTakenError) as err:
        raise UsageError(err) from err
    finally:
        signal.signal(signal.SIGTERM, previous)
    if failures:
        print(f"{len(failures)} run(s) failed (errors in "
              "<out>/<DATASET>/*.failed):")
        for f in failures:
            print(f"  {f['dataset']} {f['cell']} seed {f['seed']}: "
                  f"{f['error']}")
        if any(f["error"].startswith("internal error") for f in failures):
            print(BUG_REPORT.replace("--debug", "--jobs 1 --debug")
                  + " The .failed files hold the tracebacks.")
        return 1
    return 0


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be, so that the same clean-up
    runs."""


def _terminated(signum, frame):
    raise Terminated


def _executor(args, grid):
    """The executor ``--executor`` names, set up from the flags and the
    grid's ``slurm`` section."""
    from .runs.executors import ExecutorRequest

    cuda = (args.device or grid.shared.get("device", "auto")) == "cuda"
    request = ExecutorRequest(
        threads=args.threads or 1, gpus=int(cuda), address=args.address,
        folder=grid.out_path / ".submitit",
        slurm=lambda: grid.slurm_settings(**{
            f.name: getattr(args, "slurm_" + f.name)
            for f in dataclasses.fields(SlurmSettings)
            if f.name != "source"}))
    return EXECUTORS.load(args.executor, "--executor").from_request(request)


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``hngraph`` and its commands."""
    parser = argparse.ArgumentParser(
        prog="hngraph", description="Self-supervised graph representation "
        "learning with hard negatives.")
    parser.add_argument("--version", action="version",
                        version=f"hngraph {_version()}")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)
    _train_parser(sub)
    _embed_parser(sub)
    _grid_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """``hngraph ARGV``: the exit status (0, 1 a failure, 2 a usage error,
    130 and 143 interrupted or terminated, 141 a reader of the output that
    stopped early, as ``| head`` does, quietly)."""
    try:
        return _main(argv)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error at exit
        return 128 + signal.SIGPIPE


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.argv = argv
    if not args.debug:  # warnings as one line each, like the errors
        warnings.showwarning = _one_line_warning
    if getattr(args, "nproc", 1) < 1:
        parser.error(f"--nproc must be >= 1, got {args.nproc}")
    try:
        return {"train": _train, "embed": _embed,
                "grid": _grid}[args.command](args)
    except KeyboardInterrupt as err:
        stopped = "terminated" if isinstance(err, Terminated) else \
            "interrupted"
        if "TORCHELASTIC_RUN_ID" not in os.environ:  # the launcher speaks
            print(f"hngraph: {stopped}; finished result files are kept, "
                  "nothing half-written is left.", file=sys.stderr)
        return 143 if isinstance(err, Terminated) else 130
    except BrokenPipeError:
        raise  # quiet, in main
    except Exception as err:  # the one error boundary
        if args.debug:
            raise
        if not isinstance(err, HngraphError):  # a bug: say so, and how to look
            print(f"hngraph: {describe(err)}\nhngraph: {BUG_REPORT}",
                  file=sys.stderr)
            return 1
        print(f"hngraph: error: {describe(err)}", file=sys.stderr)
        return 2 if isinstance(err, UsageError) else 1


def _one_line_warning(message, category, filename, lineno, file=None,
                      line=None) -> None:
    print(f"hngraph: warning: {message}", file=file or sys.stderr)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("hngraph")
    except PackageNotFoundError:  # run from a source checkout
        return "unknown (not installed)"


if __name__ == "__main__":
    sys.exit(main())
