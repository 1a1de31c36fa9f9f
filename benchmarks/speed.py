"""Speed benchmark: hard negatives at no extra cost, faster than the
published approach, bounded memory, fast SVM evaluation (issue 4).

Every figure is measured side by side in one process: the compared variants
run interleaved, repeat after repeat, and the median is kept. Each part
writes ``<out>/<part>.json`` and is skipped when that file exists (``--force``
redoes it); ``SPEED.md`` is rebuilt from the files at the end.

    python benchmarks/speed.py                      # all parts
    python benchmarks/speed.py --parts overhead svm # some parts
    python benchmarks/speed.py --report-only        # rebuild SPEED.md
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch_geometric.typing
from torch_geometric.data import Batch
from torch_geometric.loader import DataLoader
from tqdm.auto import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from published_baseline import PublishedStyleInfoGraph  # noqa: E402

from hngraph import InfoGraph, load_tudataset, svm_accuracy  # noqa: E402
from hngraph.results import atomic_write_json, git_commit, machine_info  # noqa: E402
from hngraph.training import fit, resolve_device, seed_everything, train_loader  # noqa: E402

PARTS = ("overhead", "published", "memory", "svm", "scatter", "throughput")
STEP_DATASETS = ("MUTAG", "PROTEINS", "DD", "REDDIT-BINARY")
ALL_DATASETS = ("MUTAG", "PTC_MR", "ENZYMES", "IMDB-BINARY", "IMDB-MULTI",
                "PROTEINS", "NCI1", "DD", "REDDIT-BINARY")
OBJECTIVES = {"infograph": dict(beta=0.0, tau_plus=0.0),
              "hard-paper": dict(beta=1.0, tau_plus=0.5, reweight="paper"),
              "hard-reference": dict(beta=1.0, tau_plus=0.5,
                                     reweight="reference")}
SEED = 0


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def make_trainer(dataset, device, **objective):
    seed_everything(SEED)
    model = InfoGraph(dataset.num_features, **objective).to(device)
    return model, torch.optim.Adam(model.parameters(), lr=1e-3)


def step_time(model, optimizer, batches, device) -> float:
    """Seconds for one optimisation step on each batch, summed."""
    model.train()
    sync(device)
    start = time.perf_counter()
    for data in batches:
        optimizer.zero_grad()
        model.loss(data).backward()
        optimizer.step()
    sync(device)
    return time.perf_counter() - start


def interleaved(variants: dict, repeats: int, run) -> dict:
    """Median seconds of ``run(variant)`` per variant, interleaved."""
    for v in variants.values():  # warm-up
        run(v)
    times = {k: [] for k in variants}
    for _ in range(repeats):
        for k, v in variants.items():
            times[k].append(run(v))
    return {k: {"median_s": statistics.median(t), "all_s": t}
            for k, t in times.items()}


def batches_of(dataset, device, count=None, batch_size=128):
    out = []
    for i, data in enumerate(train_loader(dataset, batch_size, SEED)):
        if count is not None and i >= count:
            break
        out.append(data.to(device))
    return out


# ---------------------------------------------------------------- parts

def part_overhead(args, device):
    rows = {}
    for name in tqdm(args.datasets or STEP_DATASETS, desc="overhead"):
        ds = load_tudataset(name)
        batches = batches_of(ds, device, args.batches)
        trainers = {k: make_trainer(ds, device, **o)
                    for k, o in OBJECTIVES.items()}
        t = interleaved(trainers, args.repeats,
                        lambda mo: step_time(*mo, batches, device))
        base = t["infograph"]["median_s"]
        rows[name] = {"batches": len(batches), "timings": t, "ratio": {
            k: t[k]["median_s"] / base for k in OBJECTIVES}}
    return {"target": "hard / infograph step-time ratio <= 1.10",
            "datasets": rows}


def part_published(args, device):
    rows = {}
    for name in tqdm(args.datasets or STEP_DATASETS, desc="published"):
        ds = load_tudataset(name)
        batches = batches_of(ds, device)  # one whole epoch
        ours = make_trainer(ds, device, beta=1.0, tau_plus=0.5,
                            reweight="reference")
        model, _ = make_trainer(ds, device, beta=1.0, tau_plus=0.5,
                                reweight="reference")
        theirs = PublishedStyleInfoGraph(model)
        variants = {"hngraph": ours, "published_style":
                    (theirs, torch.optim.Adam(theirs.parameters(), lr=1e-3))}
        t = interleaved(variants, args.epoch_repeats,
                        lambda mo: step_time(*mo, batches, device))
        rows[name] = {"batches_per_epoch": len(batches), "timings": t,
                      "speedup": t["published_style"]["median_s"]
                      / t["hngraph"]["median_s"]}
    return {"target": ">= 3x faster per epoch on REDDIT-BINARY (CPU)",
            "objective": "beta=1, tau_plus=0.5, reference formula",
            "datasets": rows}


def memory_probe(batch_size: int, chunk: int | None, beta: float) -> dict:
    """Run in a fresh process: peak RSS growth of one step on the
    ``batch_size`` largest REDDIT-BINARY graphs."""
    ds = load_tudataset("REDDIT-BINARY")
    sizes = torch.tensor([ds[i].num_nodes for i in range(len(ds))])
    largest = torch.argsort(sizes, descending=True)[:batch_size]
    data = Batch.from_data_list([ds[int(i)] for i in largest])
    model, opt = make_trainer(ds, torch.device("cpu"), beta=beta,
                              tau_plus=0.5, chunk_size=chunk)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    opt.zero_grad()
    loss = model.loss(data)
    loss.backward()
    opt.step()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"graphs": batch_size, "nodes": int(data.num_nodes),
            "chunk_size": chunk, "score_matrix_mib":
            data.num_nodes * batch_size * 4 / 2**20,
            "step_peak_growth_mib": (peak - before) / 1024,
            "process_peak_mib": peak / 1024, "step_s": seconds,
            "loss": loss.item()}


def part_memory(args, device):
    rows = []
    configs = [(b, c) for b in (64, 128, 256, 512) for c in (None, 8192)]
    for b, c in tqdm(configs, desc="memory"):
        cmd = [sys.executable, __file__, "--memory-probe", str(b),
               str(c or 0)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {"how": "peak RSS growth (ru_maxrss) during one training step "
            "(beta=1, tau_plus=0.5) on the B largest REDDIT-BINARY graphs, "
            "each configuration in a fresh process", "rows": rows}


def trained_embeddings(name, epochs=2):
    ds = load_tudataset(name)
    seed_everything(SEED)
    model = InfoGraph(ds.num_features, beta=1.0, tau_plus=0.5)
    fit(model, ds, epochs=epochs, seed=SEED, device="cpu", progress=False)
    return model.embed(DataLoader(ds, batch_size=256))


def part_svm(args, device):
    rows = {}
    names = args.datasets or ("REDDIT-BINARY", "NCI1")
    for name in tqdm(names, desc="svm"):
        x, y = trained_embeddings(name)
        runs = {"fast": lambda: svm_accuracy(x, y, seed=SEED,
                                              return_folds=True),
                "sklearn": lambda: svm_accuracy(x, y, seed=SEED,
                                                return_folds=True,
                                                method="sklearn")}
        results, times = {}, {k: [] for k in runs}
        for _ in range(args.svm_repeats):
            for k, f in runs.items():
                start = time.perf_counter()
                results[k] = f()
                times[k].append(time.perf_counter() - start)
        med = {k: statistics.median(t) for k, t in times.items()}
        rows[name] = {
            "shape": list(x.shape), "median_s": med, "all_s": times,
            "speedup": med["sklearn"] / med["fast"],
            "fast": {"mean": results["fast"][0],
                     "folds": results["fast"][2]["fold_accuracies"]},
            "sklearn": {"mean": results["sklearn"][0],
                        "folds": results["sklearn"][2]["fold_accuracies"]},
            "identical_folds": sum(a == b for a, b in zip(
                results["fast"][2]["fold_accuracies"],
                results["sklearn"][2]["fold_accuracies"]))}
    return {"target": ">= 3x faster than GridSearchCV(SVC()) with identical "
            "fold accuracies", "embeddings": "hngraph encoder after 2 epochs "
            "(beta=1, tau_plus=0.5, seed 0)", "datasets": rows}


def part_scatter(args, device):
    try:
        import torch_scatter  # noqa: F401
    except ImportError:
        return {"installed": False, "note": "torch-scatter is not installed "
                "in this environment; `pip install torch-scatter` and rerun."}
    rows = {}
    for name in tqdm(args.datasets or ("PROTEINS", "REDDIT-BINARY"),
                     desc="scatter"):
        ds = load_tudataset(name)
        batches = batches_of(ds, device, args.batches)
        trainer = make_trainer(ds, device, beta=1.0, tau_plus=0.5)

        def run(flag):
            torch_geometric.typing.WITH_TORCH_SCATTER = flag
            return step_time(*trainer, batches, device)
        t = interleaved({"with": True, "without": False}, args.repeats, run)
        torch_geometric.typing.WITH_TORCH_SCATTER = True
        rows[name] = {"timings": t, "ratio_with_over_without":
                      t["with"]["median_s"] / t["without"]["median_s"]}
    return {"installed": True, "version": torch_scatter.__version__,
            "how": "torch_geometric.typing.WITH_TORCH_SCATTER toggled in "
            "one process", "datasets": rows}


def part_throughput(args, device):
    rows = {}
    for name in tqdm(args.datasets or ALL_DATASETS, desc="throughput"):
        ds = load_tudataset(name)
        batches = batches_of(ds, device, args.batches)
        model, opt = make_trainer(ds, device, beta=1.0, tau_plus=0.5)
        graphs = sum(b.num_graphs for b in batches)
        train = interleaved({"t": (model, opt)}, args.repeats,
                            lambda mo: step_time(*mo, batches, device))
        loader = DataLoader(ds, batch_size=128)

        def embed(_):
            sync(device)
            start = time.perf_counter()
            model.embed(loader, device)
            sync(device)
            return time.perf_counter() - start
        emb = interleaved({"e": None}, args.repeats, embed)
        rows[name] = {
            "train_graphs_per_s": graphs / train["t"]["median_s"],
            "embed_graphs_per_s": len(ds) / emb["e"]["median_s"],
            "epoch_s_estimate": train["t"]["median_s"] * len(ds) / graphs}
    return {"device": str(device), "batch_size": 128,
            "objective": "beta=1, tau_plus=0.5, paper", "datasets": rows}


# ---------------------------------------------------------------- report

def fmt_ratio(x):
    return f"{x:.2f}"


def report(out: Path) -> str:
    parts = {p: json.loads((out / f"{p}.json").read_text())
             for p in PARTS if (out / f"{p}.json").exists()}
    lines = ["# Speed", "", "Generated by `python benchmarks/speed.py` from "
             "the JSON files beside this page. Every ratio compares variants "
             "timed side by side, interleaved, in one process; each figure "
             "is the median of the repeats.", ""]
    for name, part in parts.items():
        meta = part["meta"]
        lines += [f"## {TITLES[name]}", "",
                  f"Commit `{meta['commit']}`, {meta['machine']['processor']}"
                  f" ({meta['machine']['cpu_count']} cores, torch threads "
                  f"{meta['machine']['torch_threads']}), device "
                  f"{meta['machine']['device']}, seed {meta['seed']}, "
                  f"repeats {meta['repeats']}, wall time "
                  f"{meta['wall_time_s']:.0f} s.", ""]
        lines += RENDER[name](part) + [""]
    return "\n".join(lines)


def render_overhead(p):
    rows = ["| dataset | InfoGraph step (s) | hard paper / InfoGraph | "
            "hard reference / InfoGraph |", "|---|---|---|---|"]
    for name, r in p["datasets"].items():
        rows.append(f"| {name} | {r['timings']['infograph']['median_s']:.4f} "
                    f"({r['batches']} batches) | "
                    f"{fmt_ratio(r['ratio']['hard-paper'])} | "
                    f"{fmt_ratio(r['ratio']['hard-reference'])} |")
    return [f"Target: {p['target']}.", ""] + rows


def render_published(p):
    rows = ["| dataset | hngraph epoch (s) | published-style epoch (s) | "
            "speed-up |", "|---|---|---|---|"]
    for name, r in p["datasets"].items():
        t = r["timings"]
        rows.append(f"| {name} | {t['hngraph']['median_s']:.2f} | "
                    f"{t['published_style']['median_s']:.2f} | "
                    f"{r['speedup']:.1f}x |")
    return [f"Target: {p['target']}. Objective: {p['objective']}. The "
            "baseline (`benchmarks/published_baseline.py`) fills dense float "
            "masks with a Python loop over the nodes, as the published code "
            "does.", ""] + rows


def render_memory(p):
    rows = ["| graphs | nodes | chunk | N x G matrix (MiB) | step peak growth "
            "(MiB) | step (s) |", "|---|---|---|---|---|---|"]
    for r in p["rows"]:
        rows.append(f"| {r['graphs']} | {r['nodes']} | "
                    f"{r['chunk_size'] or 'none'} | "
                    f"{r['score_matrix_mib']:.0f} | "
                    f"{r['step_peak_growth_mib']:.0f} | {r['step_s']:.2f} |")
    return [p["how"] + ".", ""] + rows


def render_svm(p):
    rows = ["| embeddings | GridSearchCV(SVC()) (s) | hngraph fast (s) | "
            "speed-up | identical folds | mean acc. fast / sklearn |",
            "|---|---|---|---|---|---|"]
    for name, r in p["datasets"].items():
        rows.append(f"| {name} {r['shape'][0]}x{r['shape'][1]} | "
                    f"{r['median_s']['sklearn']:.1f} | "
                    f"{r['median_s']['fast']:.1f} | {r['speedup']:.1f}x | "
                    f"{r['identical_folds']}/{len(r['fast']['folds'])} | "
                    f"{r['fast']['mean']:.4f} / {r['sklearn']['mean']:.4f} |")
    return [f"Target: {p['target']}. Embeddings: {p['embeddings']}.", ""] + rows


def render_scatter(p):
    if not p["installed"]:
        return [p["note"]]
    rows = ["| dataset | with / without torch-scatter |", "|---|---|"]
    for name, r in p["datasets"].items():
        rows.append(f"| {name} | {r['ratio_with_over_without']:.3f} |")
    return [f"torch-scatter {p['version']}; {p['how']}.", ""] + rows


def render_throughput(p):
    rows = ["| dataset | train graphs/s | embed graphs/s | epoch (s) |",
            "|---|---|---|---|"]
    for name, r in p["datasets"].items():
        rows.append(f"| {name} | {r['train_graphs_per_s']:.0f} | "
                    f"{r['embed_graphs_per_s']:.0f} | "
                    f"{r['epoch_s_estimate']:.2f} |")
    return [f"Device {p['device']}, batch {p['batch_size']}, objective "
            f"{p['objective']}.", ""] + rows


TITLES = {"overhead": "1. Loss overhead of hard negatives",
          "published": "2. Against the published approach",
          "memory": "3. Memory", "svm": "4. Evaluation",
          "scatter": "5. Optional torch-scatter",
          "throughput": "6. Throughput"}
RENDER = {"overhead": render_overhead, "published": render_published,
          "memory": render_memory, "svm": render_svm,
          "scatter": render_scatter, "throughput": render_throughput}
RUN = {"overhead": part_overhead, "published": part_published,
       "memory": part_memory, "svm": part_svm, "scatter": part_scatter,
       "throughput": part_throughput}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", nargs="*", choices=PARTS, default=list(PARTS))
    p.add_argument("--datasets", nargs="*", help="override a part's datasets")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's choice)")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--epoch-repeats", type=int, default=3)
    p.add_argument("--svm-repeats", type=int, default=3)
    p.add_argument("--batches", type=int, default=8,
                   help="real batches per timed step set")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent
                                         / "results" / "speed"))
    p.add_argument("--force", action="store_true")
    p.add_argument("--report-only", action="store_true")
    p.add_argument("--memory-probe", nargs=2, type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_probe:
        b, c = args.memory_probe
        print(json.dumps(memory_probe(b, c or None, 1.0)))
        return
    out = Path(args.out)
    device = resolve_device(args.device)
    if not args.report_only:
        for part in args.parts:
            path = out / f"{part}.json"
            if path.exists() and not args.force:
                print(f"{part}: kept {path}")
                continue
            start = time.perf_counter()
            result = RUN[part](args, device)
            result["meta"] = {
                "commit": git_commit(), "machine": machine_info(device),
                "seed": SEED, "repeats": {"overhead": args.repeats,
                                          "published": args.epoch_repeats,
                                          "svm": args.svm_repeats}.get(
                                              part, args.repeats),
                "wall_time_s": time.perf_counter() - start,
                "argv": sys.argv[1:]}
            atomic_write_json(path, result)
            print(f"{part}: wrote {path}")
    (out / "SPEED.md").write_text(report(out))
    print(f"wrote {out / 'SPEED.md'}")


if __name__ == "__main__":
    main()
