"""Long-run soak: 200 epochs on PROTEINS with beta=10.

Reports whether the loss stays finite and whether the process's resident
memory stays flat (no growth from epoch to epoch). Writes
``benchmarks/results/soak/<run>.json``.

    python benchmarks/soak.py [--epochs 200] [--beta 10] [--reweight paper]
"""
from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from hngraph import InfoGraph, load_tudataset, seed_everything
from hngraph.results import atomic_write_json, git_commit, machine_info
from hngraph.training import train_loader, train_step

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
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = train_loader(ds, 128, args.seed)
    losses, rss, nonfinite = [], [], 0
    for _ in tqdm(range(args.epochs), desc="soak", unit="epoch"):
        total = 0.0
        for data in loader:
            loss = train_step(model.loss, data, opt)
            nonfinite += not math.isfinite(loss.item())
            total += loss.item() * data.num_graphs
        losses.append(total / len(ds))
        rss.append(rss_mib())
    tail = rss[len(rss) // 10:]  # after warm-up
    slope = float(np.polyfit(np.arange(len(tail)), tail, 1)[0])
    result = {
        "config": vars(args), "finite": nonfinite == 0,
        "nonfinite_steps": nonfinite, "loss_first": losses[0],
        "loss_last": losses[-1], "loss_history": losses,
        "rss_mib": rss, "rss_after_warmup_min": min(tail),
        "rss_after_warmup_max": max(tail), "rss_slope_mib_per_epoch": slope,
        "memory_flat": max(tail) - min(tail) < 50 and abs(slope) < 0.1,
        "wall_time_s": time.perf_counter() - start, "commit": git_commit(),
        "machine": machine_info("cpu"), "seed": args.seed}
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
