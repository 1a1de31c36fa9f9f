"""Command line: ``hngraph train``."""
from __future__ import annotations

import argparse
import sys

from .config import TrainConfig
from .data import DatasetNotFoundError
from .results import atomic_write_json

#: CLI flag -> config key, for the flags that override a config file.
_OVERRIDES = ("dataset", "root", "features", "hidden", "layers", "beta",
              "tau_plus", "reweight", "prior", "chunk_size", "epochs", "batch_size", "lr",
              "seed", "device", "eval_epochs", "folds", "out")


def _train_parser(sub) -> None:
    p = sub.add_parser(
        "train", help="train an encoder, score it with the SVM protocol",
        description="Train a GIN encoder with the (hard-negative) InfoGraph "
        "objective on a TUDataset, then score its graph embeddings with an "
        "RBF SVM under 10-fold cross-validation. Flags override --config.")
    p.add_argument("--config", help="YAML config file (see configs/)")
    p.add_argument("--dataset", help="TU dataset name, e.g. MUTAG")
    p.add_argument("--root", help="folder holding NAME/raw/ (default: "
                   "$HNGRAPH_DATA, else download)")
    p.add_argument("--features", choices=("auto", "labels", "degree",
                                          "constant"))
    p.add_argument("--hidden", type=int, help="GIN width (default 32)")
    p.add_argument("--layers", type=int, help="GIN layers (default 3)")
    p.add_argument("--beta", type=float, help="hardness (default 1; 0 = "
                   "uniform negatives)")
    p.add_argument("--tau-plus", dest="tau_plus", type=float,
                   help="false-negative prior in [0, 1) (default 0.5)")
    p.add_argument("--reweight", choices=("paper", "reference"),
                   help="paper derivation or the published code's formula")
    p.add_argument("--prior", action="store_true", default=None,
                   help="add InfoGraph's prior matching term")
    p.add_argument("--chunk-size", dest="chunk_size", type=int,
                   help="compute the loss this many nodes at a time (less "
                   "memory for large batches, same result)")
    p.add_argument("--epochs", type=int, help="default 200")
    p.add_argument("--batch-size", dest="batch_size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--device", help="auto, cpu or cuda")
    p.add_argument("--eval-epochs", dest="eval_epochs", type=int, nargs="*",
                   help="also report the SVM accuracy after these epochs")
    p.add_argument("--folds", type=int, help="outer CV folds (default 10)")
    p.add_argument("--out", help="output folder for the JSON result "
                   "(default results/)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _train(args) -> int:
    from .experiment import output_path, run_experiment
    overrides = {k: getattr(args, k) for k in _OVERRIDES}
    if args.config:
        config = TrainConfig.from_yaml(args.config, **overrides)
    else:
        config = TrainConfig.from_dict(
            {k: v for k, v in overrides.items() if v is not None}, "flags")
    result, _ = run_experiment(config, progress=not args.quiet)
    path = atomic_write_json(output_path(config), result)
    print(f"{config.dataset} {config.objective} beta={config.beta:g} "
          f"tau_plus={config.tau_plus:g} seed={config.seed}: "
          f"{config.epochs} epochs in {result['wall_time_s']:.1f} s")
    print(f"accuracy {result['accuracy_mean']:.4f} ± "
          f"{result['accuracy_std']:.4f}")
    print(f"result written to {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hngraph", description="Self-supervised graph representation "
        "learning with hard negatives.")
    sub = parser.add_subparsers(dest="command", required=True)
    _train_parser(sub)
    args = parser.parse_args(argv)
    try:
        return {"train": _train}[args.command](args)
    except (DatasetNotFoundError, FileNotFoundError, ValueError, KeyError,
            TypeError) as err:
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"hngraph: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
