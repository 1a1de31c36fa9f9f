"""Command line: ``hngraph train`` and ``hngraph embed``.

torch and PyG are imported only once a command runs, so ``--help``,
``--version`` and argument errors answer at once. Every failure is one line,
``hngraph: error: <what and how to fix>``, with exit status 2 for a usage
error (a flag, a config file, an output folder) and 1 for a failure while
running; ``--debug`` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from .choices import (
    BATCHING_CHOICES,
    FEATURE_CHOICES,
    OBJECTIVES,
    REWEIGHT_MODES,
)
from .config import TrainConfig

#: Config keys that a flag of the same name overrides: all of them.
_OVERRIDES = tuple(f.name for f in dataclasses.fields(TrainConfig))
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainConfig)
             if f.default is not dataclasses.MISSING}


class UsageError(ValueError):
    """A command line that cannot run as given (exit status 2)."""


def _help(key: str, text: str) -> str:
    """``text`` with the config default of ``key``."""
    return f"{text} (default: {_DEFAULTS[key]})"


def _train_parser(sub) -> None:
    p = sub.add_parser(
        "train", help="train an encoder, score it with the SVM protocol",
        description="Train a GIN encoder with the (hard-negative) InfoGraph "
        "objective on a TUDataset, then score its graph embeddings with an "
        "RBF SVM under 10-fold cross-validation. Flags override --config.")
    p.add_argument("--config", help="YAML config file (see configs/)")
    p.add_argument("--dataset", help="TU dataset name, e.g. MUTAG; needed "
                   "unless the --config file names one")
    p.add_argument("--objective", choices=OBJECTIVES, help=_help(
        "objective", "jsd: InfoGraph local-global; infonce: GraphCL-style "
        "two views"))
    p.add_argument("--temperature", type=float,
                   help=_help("temperature", "InfoNCE temperature"))
    p.add_argument("--aug1", help=_help("aug1", "first view's augmentation "
                   "(node_drop, edge_perturb, feature_mask, subgraph)"))
    p.add_argument("--aug2", help=_help("aug2", "second view's augmentation"))
    p.add_argument("--aug-ratio", dest="aug_ratio", type=float,
                   help=_help("aug_ratio", "augmentation ratio"))
    p.add_argument("--root", help="folder holding NAME/raw/ (default: "
                   "$HNGRAPH_DATA, else download)")
    p.add_argument("--features", choices=FEATURE_CHOICES, help=_help(
        "features", "node features: labels = the dataset's node labels; "
        "degree = one-hot degree (standardised degree from degree 1000); "
        "constant = 1 for every node (InfoGraph's setting); auto = labels "
        "where the dataset has them, else degree"))
    p.add_argument("--hidden", type=int, help=_help("hidden", "GIN width"))
    p.add_argument("--layers", type=int, help=_help("layers", "GIN layers"))
    p.add_argument("--beta", type=float, help=_help(
        "beta", "hardness; 0 = uniform negatives"))
    p.add_argument("--tau-plus", dest="tau_plus", type=float, help=_help(
        "tau_plus", "false-negative prior in [0, 1); 0 = no debiasing"))
    p.add_argument("--reweight", choices=REWEIGHT_MODES, help=_help(
        "reweight", "paper derivation or the published code's formula"))
    p.add_argument("--prior", action="store_true", default=None,
                   help="add InfoGraph's prior matching term (default: off)")
    p.add_argument("--chunk-size", dest="chunk_size", type=int, help=_help(
        "chunk_size", "compute the loss this many nodes at a time (less "
        "memory for large batches, same result)"))
    p.add_argument("--epochs", type=int, help=_help("epochs", "epochs"))
    p.add_argument("--batch-size", dest="batch_size", type=int,
                   help=_help("batch_size", "graphs per mini-batch"))
    p.add_argument("--lr", type=float, help=_help("lr", "Adam learning rate"))
    p.add_argument("--seed", type=int, help=_help("seed", "seed of the "
                   "weights, the batch order and the folds"))
    p.add_argument("--device", help=_help("device", "auto, cpu or cuda"))
    p.add_argument("--batching", choices=BATCHING_CHOICES, help=_help(
        "batching", "device: build mini-batches on the training device; "
        "loader: PyG's DataLoader (datasets larger than device memory; "
        "GraphCL's views always use it)"))
    p.add_argument("--eval-epochs", dest="eval_epochs", type=int, nargs="*",
                   help="also report the SVM accuracy after these epochs "
                   "(default: none)")
    p.add_argument("--folds", type=int, help=_help("folds", "outer CV folds"))
    p.add_argument("--checkpoint-every", dest="checkpoint_every", type=int,
                   help=_help("checkpoint_every", "write a training "
                   "checkpoint every K epochs (0: never); a rerun of the "
                   "same command resumes from it"))
    p.add_argument("--out", help=_help("out", "output folder for the JSON "
                   "result and the model"))
    p.add_argument("--nproc", type=int, default=1,
                   help="train in N processes with DDP (torchrun on this "
                   "machine): gloo on the CPU, nccl on GPUs; --batch-size "
                   "is per process, negatives come from all processes "
                   "(default: 1)")
    p.add_argument("--restart", action="store_true",
                   help="train from the start over an existing training "
                   "checkpoint of the same run")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _train_config(args) -> TrainConfig:
    """The run's config from ``--config`` and the flags (usage errors)."""
    overrides = {k: getattr(args, k) for k in _OVERRIDES}
    try:
        if args.config:
            config = TrainConfig.from_yaml(args.config, **overrides)
            named = TrainConfig.names_dataset(args.config)
        else:
            config = TrainConfig.from_dict(
                {k: v for k, v in overrides.items() if v is not None},
                "flags")
            named = False
    except (ValueError, KeyError, TypeError, FileNotFoundError) as err:
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        raise UsageError(str(msg)) from err
    if args.dataset is None and not named:
        raise UsageError("no dataset given: pass --dataset NAME (for example "
                         "--dataset MUTAG), or a --config file with a "
                         "'dataset' key.")
    _check_output_folder(Path(config.out))
    return config


def _train(args) -> int:
    config = _train_config(args)
    from .distributed import launched_by_torchrun
    from .experiment import output_paths, run_experiment
    from .results import atomic_write_json
    if args.nproc > 1 and not launched_by_torchrun():
        return _launch(args, config)
    result, model = run_experiment(config, progress=not args.quiet,
                                   restart=args.restart)
    if result is None:  # a DDP worker other than rank 0
        return 0
    path, weights = output_paths(config)
    replaced = path.exists()
    model.save(weights)
    result["checkpoint"] = str(weights)
    result["command"] = ["hngraph", *args.argv]
    atomic_write_json(path, result)
    procs = (f" in {result['processes']} processes"
             if result["processes"] > 1 else "")
    print(f"{config.dataset} {config.tag} beta={config.beta:g} "
          f"tau_plus={config.tau_plus:g} seed={config.seed}: "
          f"{config.epochs} epochs{procs} in {result['wall_time_s']:.1f} s")
    print(f"accuracy {result['accuracy_mean']:.4f} ± "
          f"{result['accuracy_std']:.4f}")
    print(f"result written to {path}, model to {weights}"
          + (" (replacing the result of an earlier run with the same "
             "settings)" if replaced else ""))
    return 0


def _check_output_folder(out: Path) -> None:
    """Fail before any training when the results could not be written."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder. Give a "
                         "folder for the results (it is created if needed).")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"--out {out} cannot be created ({err.strerror}). "
                         "Give a folder you can write to.") from err
    if not os.access(out, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out} is not writable. Give a folder you "
                         "can write to, or change its permissions.")


def _launch(args, config: TrainConfig) -> int:
    """Check what can be checked here, build the processed dataset once,
    then start ``args.nproc`` DDP workers."""
    import torch

    from .data import load_tudataset
    from .distributed import launch
    from .training import resolve_device
    device = resolve_device(config.device)
    if device.type == "cuda" and torch.cuda.device_count() < args.nproc:
        raise UsageError(f"--nproc {args.nproc} on CUDA needs {args.nproc} "
                         f"GPUs, but torch sees {torch.cuda.device_count()}.")
    load_tudataset(config.dataset, root=config.root, features=config.features)
    return launch(args.argv, args.nproc)


def _embed_parser(sub) -> None:
    p = sub.add_parser(
        "embed", help="embed your own graphs with a trained model",
        description="Embed graphs with a checkpoint written by `hngraph "
        "train` (or model.save) and write a NumPy array [graphs, dim].")
    p.add_argument("--checkpoint", required=True, help="model .pt file")
    p.add_argument("--input", required=True, help="a .pkl list of networkx "
                   "graphs or PyG Data, or a folder of .graphml/.gml/"
                   ".edgelist/.adjlist files")
    p.add_argument("--out", required=True, help="output .npy file")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--device", default="cpu")


def _embed(args) -> int:
    import time

    import numpy as np

    from .embedding import embed, read_graphs
    start = time.perf_counter()
    graphs = read_graphs(args.input)
    emb = embed(args.checkpoint, graphs, args.batch_size, args.device)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, emb)
    print(f"embedded {emb.shape[0]} graphs (dim {emb.shape[1]}) in "
          f"{time.perf_counter() - start:.2f} s -> {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
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
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.argv = argv
    if getattr(args, "nproc", 1) < 1:
        parser.error(f"--nproc must be >= 1, got {args.nproc}")
    try:
        return {"train": _train, "embed": _embed}[args.command](args)
    except KeyboardInterrupt:
        if "TORCHELASTIC_RUN_ID" not in os.environ:  # the launcher speaks
            print("hngraph: interrupted; finished result files are kept, "
                  "nothing half-written is left.", file=sys.stderr)
        return 130
    except Exception as err:  # one line for the user, unless --debug
        if args.debug:
            raise
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"hngraph: error: {msg}", file=sys.stderr)
        return 2 if isinstance(err, UsageError) else 1


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("hngraph")
    except PackageNotFoundError:  # run from a source checkout
        return "unknown (not installed)"


if __name__ == "__main__":
    sys.exit(main())
