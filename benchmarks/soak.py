"""Long-run soak: 200 epochs on PROTEINS with beta=10.

Reports whether the loss stays finite and whether the process's resident
memory stays flat (no growth from epoch to epoch), training with ``fit``
itself, one epoch a call, resumed from its checkpoint each time. Writes
``benchmarks/results/soak/<run>.json``.

    python benchmarks/soak.py [--epochs 200] [--beta 10] [--reweight paper]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from hngraph import InfoGraph, load_tudataset, seed_everything
from hngraph.results import atomic_write_json, provenance
from hngraph.train.loop import fit

ROOT = Path(__file__).resolve().parents[1]


def rss_mib() -> float:
    """Current resident set size of this process, from /proc."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="PROTEINS")
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--beta", type=float, default=10.0)
    p.add_argument("--tau-plus", type=float, default=0.5)
    p.add_argument("--reweight", default="paper")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" /
                                        "soak"))
    args = p.parse_args(argv)
    start = time.perf_counter()
    ds = load_tudataset(args.dataset)
    seed_everything(args.seed)
    model = InfoGraph(ds.num_features, beta=args.beta,
                      tau_plus=args.tau_plus, reweight=args.reweight)
    losses, rss, nonfinite = [], [], 0
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "soak.train.pt"
        # fit itself, one epoch a call, resuming from its checkpoint: the
        # loop, batching, optimizer and resume that a real run takes.
        for epoch in tqdm(range(1, args.epochs + 1), desc="soak",
                          unit="epoch"):
            try:
                history = fit(model, ds, epochs=epoch, seed=args.seed,
                              device="cpu", progress=False, checkpoint=state)
            except FloatingPointError:
                nonfinite += 1
                break
            losses.append(history["loss"][-1])
            rss.append(rss_mib())
    tail = rss[len(rss) // 10:]  # after warm-up
    slope = float(np.polyfit(np.arange(len(tail)), tail, 1)[0])
    result = {
        "config": vars(args), "finite": nonfinite == 0,
        "nonfinite_epochs": nonfinite, "loss_first": losses[0],
        "loss_last": losses[-1], "loss_history": losses,
        "rss_mib": rss, "rss_after_warmup_min": min(tail),
        "rss_after_warmup_max": max(tail), "rss_slope_mib_per_epoch": slope,
        "memory_flat": max(tail) - min(tail) < 50 and abs(slope) < 0.1,
        "wall_time_s": time.perf_counter() - start, **provenance(),
        "seed": args.seed}
    name = (f"{args.dataset}_{args.reweight}_beta{args.beta:g}"
            f"_tau{args.tau_plus:g}_seed{args.seed}_{args.epochs}ep.json")
    path = atomic_write_json(Path(args.out) / name, result)
    print(f"loss finite: {result['finite']} ({losses[0]:.4g} -> "
          f"{losses[-1]:.4g}); RSS after warm-up {min(tail):.0f}-"
          f"{max(tail):.0f} MiB, slope {slope:+.3f} MiB/epoch; "
          f"memory flat: {result['memory_flat']}; wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
