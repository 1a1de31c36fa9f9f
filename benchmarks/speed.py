"""Speed benchmark: hard negatives at no extra cost, faster than the
published approach, bounded memory, fast SVM evaluation, fit against its
compute floor and against an earlier commit, torch.compile, and the grid's
wall time.

Every figure is measured side by side in one process: the compared variants
run interleaved, repeat after repeat, and the median is kept. Each part
writes ``<out>/<part>.json`` and is skipped when that file exists (``--force``
redoes it); ``SPEED.md`` is rebuilt from the files at the end.

    python benchmarks/speed.py                      # all parts
    python benchmarks/speed.py --parts overhead svm # some parts
    python benchmarks/speed.py --report-only        # rebuild SPEED.md
    python benchmarks/speed.py --parts floor before --device cuda
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.utils.benchmark as benchmark
import torch_geometric.typing
from published_baseline import PublishedStyleInfoGraph
from torch_geometric.data import Batch
from torch_geometric.loader import DataLoader
from tqdm.auto import tqdm

from hngraph import InfoGraph, load_tudataset, svm_accuracy
from hngraph.distributed import resolve_device
from hngraph.eval.scoring import SVMResult
from hngraph.results import atomic_write_json, provenance
from hngraph.train.loop import (
    fit,
    make_optimizer,
    seed_everything,
    train_loader,
    train_step,
)

PARTS = ("overhead", "published", "memory", "svm", "scatter", "throughput",
         "floor", "before", "compile", "grid", "views")
SMALL_DATASETS = ("MUTAG", "PTC_MR", "ENZYMES", "IMDB-BINARY", "IMDB-MULTI",
                  "PROTEINS", "NCI1")
#: The commit that ``before`` compares against.
BASE_COMMIT = "e5a8a33"
STEP_DATASETS = ("MUTAG", "PROTEINS", "DD", "REDDIT-BINARY")
ALL_DATASETS = ("MUTAG", "PTC_MR", "ENZYMES", "IMDB-BINARY", "IMDB-MULTI",
                "PROTEINS", "NCI1", "DD", "REDDIT-BINARY")
OBJECTIVES = {"infograph": dict(beta=0.0, tau_plus=0.0),
              "hard-paper": dict(beta=1.0, tau_plus=0.5, reweight="paper"),
              "hard-hcl-code": dict(beta=1.0, tau_plus=0.5,
                                     reweight="hcl-code")}
SEED = 0


def make_trainer(dataset, device, **objective):
    seed_everything(SEED)
    model = InfoGraph(dataset.num_features, **objective).to(device)
    return model, make_optimizer(model, 1e-3)


def timed(fn) -> float:
    """Seconds of one call of ``fn``, timed by ``torch.utils.benchmark``
    (which waits for the GPU before and after)."""
    return benchmark.Timer(stmt="fn()", globals={"fn": fn}).timeit(1).mean


def step_time(model, optimizer, batches, device, loss=None) -> float:
    """Seconds for one optimisation step (:func:`hngraph.train.loop.train_step`,
    the step ``fit`` takes) on each batch, summed."""
    model.train()

    def steps():
        for data in batches:
            train_step(loss or model.loss, data, optimizer)
    return timed(steps)


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
    """The first ``count`` training batches (all when ``None``), collated
    once on ``device``."""
    out = []
    for i, data in enumerate(train_loader(dataset, batch_size, SEED, device)):
        if count is not None and i >= count:
            break
        out.append(data)
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
                        lambda mo, b=batches: step_time(*mo, b, device))
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
                            reweight="hcl-code")
        model, _ = make_trainer(ds, device, beta=1.0, tau_plus=0.5,
                                reweight="hcl-code")
        theirs = PublishedStyleInfoGraph(model)
        variants = {"hngraph": ours, "published_style":
                    (theirs, torch.optim.Adam(theirs.parameters(), lr=1e-3))}
        t = interleaved(variants, args.epoch_repeats,
                        lambda mo, b=batches: step_time(*mo, b, device))
        rows[name] = {"batches_per_epoch": len(batches), "timings": t,
                      "speedup": t["published_style"]["median_s"]
                      / t["hngraph"]["median_s"]}
    return {"target": ">= 3x faster per epoch on REDDIT-BINARY (CPU)",
            "objective": "beta=1, tau_plus=0.5, hcl-code formula",
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
    loss = train_step(model.loss, data, opt)
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


#: hngraph's plain path (``method="sklearn"``) in a fresh interpreter whose
#: scikit-learn is patched by scikit-learn-intelex before hngraph imports it,
#: so that its SVC is oneDAL's: the embeddings in the ``.npz`` of argv[1],
#: the seed in argv[2]; prints the result and the seconds it took as JSON.
_UNDER_SKLEARNEX = """
import json, sys, time
import numpy as np
from sklearnex import patch_sklearn
patch_sklearn()
from hngraph.eval.scoring import svm_accuracy
data = np.load(sys.argv[1])
start = time.perf_counter()
result = svm_accuracy(data["x"], data["y"], seed=int(sys.argv[2]),
                      method="sklearn")
print(json.dumps({"seconds": time.perf_counter() - start,
                  "result": result.to_dict()}))
"""


def sklearnex_svm(x, y, seed) -> tuple[SVMResult, float] | None:
    """hngraph's ``method="sklearn"`` SVM with scikit-learn-intelex's SVC
    (oneDAL) in its place, and its seconds; ``None`` where sklearnex is not
    installed."""
    import importlib.util

    if importlib.util.find_spec("sklearnex") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(Path(tmp) / "xy.npz", x=x, y=y)
        done = subprocess.run(
            [sys.executable, "-c", _UNDER_SKLEARNEX, str(Path(tmp) / "xy.npz"),
             str(seed)], capture_output=True, text=True, check=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return SVMResult.from_dict(out["result"]), out["seconds"]


def part_svm(args, device):
    rows = {}
    names = args.datasets or ("REDDIT-BINARY", "NCI1")
    for name in tqdm(names, desc="svm"):
        x, y = trained_embeddings(name)
        runs = {"fast": lambda x=x, y=y: svm_accuracy(x, y, seed=SEED),
                "sklearn": lambda x=x, y=y: svm_accuracy(x, y, seed=SEED,
                                                         method="sklearn")}
        results, times = {}, {k: [] for k in runs}
        for _ in range(args.svm_repeats):
            for k, f in runs.items():
                start = time.perf_counter()
                results[k] = f()
                times[k].append(time.perf_counter() - start)
            if (onedal := sklearnex_svm(x, y, SEED)) is not None:
                results["sklearnex"] = onedal[0]
                times.setdefault("sklearnex", []).append(onedal[1])
        med = {k: statistics.median(t) for k, t in times.items()}
        fast_folds = results["fast"].fold_accuracies
        rows[name] = {
            "shape": list(x.shape), "median_s": med, "all_s": times,
            "speedup": {k: med["sklearn"] / med[k] for k in med},
            "backends": {k: {"mean": r.accuracy_mean,
                             "folds": r.fold_accuracies, "best_C": r.best_C,
                             "identical_folds": sum(
                                 a == b for a, b in zip(
                                     r.fold_accuracies, fast_folds,
                                     strict=True))}
                         for k, r in results.items()}}
    return {"target": ">= 5x faster than GridSearchCV(SVC()) on NCI1-sized "
            "embeddings, with identical fold accuracies",
            "embeddings": "hngraph encoder after 2 epochs (beta=1, "
            "tau_plus=0.5, seed 0)", "datasets": rows}


def part_scatter(args, device):
    try:
        import torch_scatter
    except ImportError:
        return {"installed": False, "note": "torch-scatter is not installed "
                "in this environment; `pip install torch-scatter` and rerun."}
    rows = {}
    for name in tqdm(args.datasets or ("PROTEINS", "REDDIT-BINARY"),
                     desc="scatter"):
        ds = load_tudataset(name)
        batches = batches_of(ds, device, args.batches)
        trainer = make_trainer(ds, device, beta=1.0, tau_plus=0.5)

        def run(flag, trainer=trainer, batches=batches):
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
                            lambda mo, b=batches: step_time(*mo, b, device))
        loader = DataLoader(ds, batch_size=128)

        def embed(_, model=model, loader=loader):
            return timed(lambda: model.embed(loader, device))
        emb = interleaved({"e": None}, args.repeats, embed)
        rows[name] = {
            "train_graphs_per_s": graphs / train["t"]["median_s"],
            "embed_graphs_per_s": len(ds) / emb["e"]["median_s"],
            "epoch_s_estimate": train["t"]["median_s"] * len(ds) / graphs}
    return {"device": str(device), "batch_size": 128,
            "objective": "beta=1, tau_plus=0.5, paper", "datasets": rows}


def part_floor(args, device):
    """(a) fit's graphs/s against the same steps on batches collated once."""
    rows = {}
    for name in tqdm(args.datasets or ALL_DATASETS, desc="floor"):
        ds = load_tudataset(name)
        epochs = args.fit_epochs
        batches = batches_of(ds, device)
        trained = sum(b.num_graphs for b in batches) * epochs
        fit_model, _ = make_trainer(ds, device, beta=1.0, tau_plus=0.5)
        floor = make_trainer(ds, device, beta=1.0, tau_plus=0.5)

        def run(which, model=fit_model, ds=ds, floor=floor, batches=batches,
                epochs=epochs):
            if which == "fit":
                return fit(model, ds, epochs=epochs, seed=SEED,
                           device=device, progress=False)["train_time"]
            return sum(step_time(*floor, batches, device)
                       for _ in range(epochs))
        t = interleaved({"fit": "fit", "floor": "floor"}, args.fit_repeats,
                        run)
        gps = {k: trained / v["median_s"] for k, v in t.items()}
        rows[name] = {"graphs_per_s": gps, "timings": t,
                      "fit_over_floor_time": gps["floor"] / gps["fit"]}
    return {"target": "fit within 1.25x of the pre-collated floor",
            "epochs": args.fit_epochs, "objective": "beta=1, tau_plus=0.5, "
            "paper", "batch_size": 128, "datasets": rows}


FIT_PROBE = """
import json, sys, time, torch
from hngraph import InfoGraph, fit, load_tudataset, seed_everything
name, epochs, device = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ds = load_tudataset(name)
seed_everything(0)
model = InfoGraph(ds.num_features, beta=1.0, tau_plus=0.5)
fit(model, ds, epochs=1, seed=0, device=device, progress=False)  # warm-up
h = fit(model, ds, epochs=epochs, seed=0, device=device, progress=False)
print(json.dumps({"graphs_per_s": epochs * len(ds) / h["train_time"]}))
"""


def _fit_probe(source: Path, name: str, epochs: int, device) -> float:
    """graphs/s of ``fit`` with the hngraph package found in ``source``."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    for key in ("HNGRAPH_DATA", "HNGRAPH_CACHE"):  # the probe runs elsewhere
        if env.get(key):
            env[key] = str(Path(env[key]).resolve())
    out = subprocess.run([sys.executable, "-c", FIT_PROBE, name, str(epochs),
                          str(device)], capture_output=True, text=True,
                         env=env, cwd=source, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["graphs_per_s"]


def part_before(args, device):
    """(b) fit's graphs/s at this commit and at BASE_COMMIT, alternating
    fresh processes on the same machine."""
    root = Path(__file__).resolve().parents[1]
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        base.mkdir()
        archive = subprocess.run(["git", "archive", args.base, "hngraph"],
                                 cwd=root, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive.stdout,
                       check=True)
        for name in tqdm(args.datasets or ALL_DATASETS, desc="before"):
            t = {"before": [], "after": []}
            for _ in range(args.fit_repeats):
                for key, src in (("before", base), ("after", root)):
                    t[key].append(_fit_probe(src, name, args.fit_epochs,
                                             device))
            med = {k: statistics.median(v) for k, v in t.items()}
            rows[name] = {"graphs_per_s": med, "all": t,
                          "speedup": med["after"] / med["before"]}
    return {"target": ">= 1.5x the training graphs/s of the base commit on "
            "the 7 smaller datasets", "base": args.base,
            "epochs": args.fit_epochs, "how": "fit() after one warm-up "
            "epoch, each measurement in a fresh process, before and after "
            "alternating", "datasets": rows}


def part_compile(args, device):
    """Steps of the eager loss against ``torch.compile(model.loss,
    dynamic=True)`` on the same batches (compile time reported apart)."""
    rows = {}
    for name in tqdm(args.datasets or ("MUTAG", "PROTEINS"), desc="compile"):
        ds = load_tudataset(name)
        batches = batches_of(ds, device)
        eager = make_trainer(ds, device, beta=1.0, tau_plus=0.5)
        model, opt = make_trainer(ds, device, beta=1.0, tau_plus=0.5)
        compiled = torch.compile(model.loss, dynamic=True)
        start = time.perf_counter()
        step_time(model, opt, batches, device, compiled)  # compiles
        compile_s = time.perf_counter() - start
        t = interleaved({"eager": (eager, None), "compiled":
                         ((model, opt), compiled)}, args.epoch_repeats,
                        lambda v, b=batches: step_time(*v[0], b, device, v[1]))
        rows[name] = {"timings": t, "first_epoch_s": compile_s,
                      "compiled_over_eager": t["compiled"]["median_s"]
                      / t["eager"]["median_s"]}
    torch._dynamo.reset()
    return {"how": "one epoch of steps, eager vs torch.compile(dynamic=True)"
            " of the loss; the first compiled epoch (compilation) apart",
            "datasets": rows}


GRID_OBJECTIVES = {"infograph": dict(beta=0.0, tau_plus=0.0),
                   "paper": dict(beta=1.0, tau_plus=0.5),
                   "hcl-code": dict(beta=1.0, tau_plus=0.5,
                                     reweight="hcl-code")}
#: The main grid: how many of its 8 objectives take each path.
GRID_COUNTS = {"infograph": 2, "paper": 3, "hcl-code": 3}


def part_grid(args, device):
    """(d) The 9 x 8 x 10 grid's wall time, projected from measured parts:
    per-epoch training time of each loss path, and the SVM stage."""
    rows = {}
    for name in tqdm(args.datasets or ALL_DATASETS, desc="grid"):
        start = time.perf_counter()
        ds = load_tudataset(name)
        load_s = time.perf_counter() - start
        epoch_s = {}
        for key, objective in GRID_OBJECTIVES.items():
            seed_everything(SEED)
            model = InfoGraph(ds.num_features, **objective)
            fit(model, ds, epochs=1, seed=SEED, device=device,
                progress=False)  # warm-up
            h = fit(model, ds, epochs=args.grid_epochs, seed=SEED,
                    device=device, progress=False)
            epoch_s[key] = h["train_time"] / args.grid_epochs
        x, y = model.embed(DataLoader(ds, batch_size=512), device)
        start = time.perf_counter()
        svm_accuracy(x, y, seed=SEED)
        svm_s = time.perf_counter() - start
        run_s = {k: 200 * v + svm_s + load_s for k, v in epoch_s.items()}
        rows[name] = {"epoch_s": epoch_s, "svm_s": svm_s, "load_s": load_s,
                      "run_s": run_s, "grid_s": args.grid_seeds * sum(
                          GRID_COUNTS[k] * run_s[k] for k in run_s)}
    return {"how": "per run: 200 x the measured epoch time of its loss path "
            "+ one SVM stage (embeddings after a few epochs) + loading; "
            "runs one after another in one process with all cores",
            "seeds": args.grid_seeds, "objectives": GRID_COUNTS,
            "datasets": rows,
            "total_s": sum(r["grid_s"] for r in rows.values())}


# ---------------------------------------------------------------- report

def part_views(args, device):
    """GraphCL's two-view training step, side by side in one process, with
    the views drawn three ways: per graph on the host (the transforms of
    :mod:`hngraph.data.augment` on each ``Data``, then ``Batch.from_data_list``:
    the loader path before views were drawn on whole batches), on PyG's
    loader batches (:func:`~hngraph.data.augment.augment_batch`), and on the
    device batches of :class:`~hngraph.data.batching.DeviceLoader` (what ``fit``
    runs by default)."""
    rows = {name: _views_timing(name, args, device)
            for name in tqdm(args.datasets or SMALL_DATASETS, desc="views")}
    return {"device": str(device), "batch_size": 128, "views": "node_drop "
            "and subgraph, ratio 0.2", "datasets": rows}


def _views_timing(name, args, device) -> dict:
    from torch_geometric.data import Batch

    from hngraph import GraphCL
    from hngraph.data.augment import make_augmentation

    ds = load_tudataset(name)
    pyg = list(itertools.islice(train_loader(ds, 128, SEED), args.batches))
    on_device = list(itertools.islice(train_loader(ds, 128, SEED, device),
                                      args.batches))
    seed_everything(SEED)
    model = GraphCL(ds.num_features, beta=1.0, tau_plus=0.1,
                    aug1="node_drop", aug2="subgraph").to(device)
    opt = make_optimizer(model, 1e-2)
    transforms = [make_augmentation(a, ratio=0.2) for a in model.augs]

    def per_graph_loss(batch):
        views = [Batch.from_data_list([t(g) for g in batch.to_data_list()])
                 .to(device) for t in transforms]
        z = [model.head(model(v.x, v.edge_index, v.batch)) for v in views]
        return model.criterion(*z)

    paths = {
        "host": lambda: [train_step(per_graph_loss, b, opt) for b in pyg],
        "loader": lambda: [train_step(model.loss, b.to(device), opt)
                           for b in pyg],
        "device": lambda: [train_step(model.loss, b, opt)
                           for b in on_device]}
    t = interleaved({k: k for k in paths}, args.repeats,
                    lambda k: timed(paths[k]))
    graphs = sum(b.num_graphs for b in pyg)
    rate = {k: graphs / v["median_s"] for k, v in t.items()}
    return {"graphs_per_s": rate,
            "device_over_host": rate["device"] / rate["host"],
            "device_over_loader": rate["device"] / rate["loader"],
            "timings": t}


def render_views(p):
    rows = table(
        ["dataset", "views per graph on the host (graphs/s)",
         "views on PyG's loader batches (graphs/s)",
         "views on device batches (graphs/s)", "device / host",
         "device / loader"],
        ([name, f"{r['graphs_per_s']['host']:.0f}",
          f"{r['graphs_per_s']['loader']:.0f}",
          f"{r['graphs_per_s']['device']:.0f}",
          f"{r['device_over_host']:.1f}x", f"{r['device_over_loader']:.2f}x"]
         for name, r in p["datasets"].items()))
    return [f"GraphCL's training step ({p['views']}, batch "
            f"{p['batch_size']}, on {p['device']}), its two views drawn "
            "three ways, timed side by side in one process: per graph on "
            "the host (the augmentation transforms on each `Data`, then "
            "`Batch.from_data_list`: the loader path before views were "
            "drawn on whole batches), on PyG's loader batches "
            "(`augment_batch`), and on `DeviceLoader`'s batches (`fit`'s "
            "default). Training graphs per second of the whole step (views, "
            "loss, backward, Adam).", ""] + rows


def fmt_ratio(x):
    return f"{x:.2f}"


def report(out: Path) -> str:
    """SPEED.md: the CPU parts in ``out``, then the GPU parts in
    ``out/cuda`` where a GPU run wrote them."""
    lines = ["# Speed", "", "Generated by `python benchmarks/speed.py` from "
             "the JSON files beside this page. Every ratio compares variants "
             "timed side by side, interleaved, in one process (or alternating "
             "fresh processes, where stated); each figure is the median of "
             "the repeats.", ""]
    lines += _sections(out, "")
    if (out / "cuda").is_dir():
        lines += ["# On a GPU", ""] + _sections(out / "cuda", "GPU ")
    return "\n".join(lines)


def _sections(folder: Path, prefix: str) -> list[str]:
    lines = []
    for name in PARTS:
        if not (folder / f"{name}.json").exists():
            continue
        part = json.loads((folder / f"{name}.json").read_text())
        meta, machine = part["meta"], part["meta"]["machine"]
        gpu = f" ({machine['gpu']})" if "gpu" in machine else ""
        lines += [f"## {prefix}{TITLES[name]}", "",
                  f"Commit `{meta['commit']}`, {machine['processor']}"
                  f" ({machine['cpu_count']} cores, torch threads "
                  f"{machine['torch_threads']}), device "
                  f"{machine['device']}{gpu}, seed {meta['seed']}, "
                  f"repeats {meta['repeats']}, wall time "
                  f"{meta['wall_time_s']:.0f} s.", ""]
        lines += RENDER[name](part) + [""]
    return lines


def table(header: list[str], rows) -> list[str]:
    """A Markdown table: ``header`` and one row of cell strings per item."""
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(cells) + " |" for cells in rows])


def render_overhead(p):
    rows = table(
        ["dataset", "InfoGraph step (s)", "hard paper / InfoGraph",
         "hard hcl-code / InfoGraph"],
        ([name, f"{r['timings']['infograph']['median_s']:.4f} "
          f"({r['batches']} batches)", fmt_ratio(r["ratio"]["hard-paper"]),
          fmt_ratio(r["ratio"]["hard-hcl-code"])]
         for name, r in p["datasets"].items()))
    return [f"Target: {p['target']}.", ""] + rows


def render_published(p):
    rows = table(
        ["dataset", "hngraph epoch (s)", "published-style epoch (s)",
         "speed-up"],
        ([name, f"{r['timings']['hngraph']['median_s']:.2f}",
          f"{r['timings']['published_style']['median_s']:.2f}",
          f"{r['speedup']:.1f}x"] for name, r in p["datasets"].items()))
    return [f"Target: {p['target']}. Objective: {p['objective']}. The "
            "baseline (`benchmarks/published_baseline.py`) fills dense float "
            "masks with a Python loop over the nodes, as the published code "
            "does.", ""] + rows


def render_memory(p):
    rows = table(
        ["graphs", "nodes", "chunk", "N x G matrix (MiB)",
         "step peak growth (MiB)", "step (s)"],
        ([str(r["graphs"]), str(r["nodes"]), str(r["chunk_size"] or "none"),
          f"{r['score_matrix_mib']:.0f}", f"{r['step_peak_growth_mib']:.0f}",
          f"{r['step_s']:.2f}"] for r in p["rows"]))
    return [p["how"] + ".", ""] + rows


def render_svm(p):
    rows = table(
        ["embeddings", "backend", "seconds",
         "speed-up over GridSearchCV(SVC())", "folds identical to fast",
         "mean acc.", "chosen C"],
        ([f"{name} {r['shape'][0]}x{r['shape'][1]}", k,
          f"{r['median_s'][k]:.1f}", f"{r['speedup'][k]:.2f}x",
          f"{b['identical_folds']}/{len(b['folds'])}", f"{b['mean']:.4f}",
          ", ".join(f"{c:g}" for c in b["best_C"])]
         for name, r in p["datasets"].items()
         for k, b in r["backends"].items()))
    return [f"Target: {p['target']}. Embeddings: {p['embeddings']}. "
            "`fast` is hngraph's exact path (the default), `sklearn` plain "
            "`GridSearchCV(SVC())`, `sklearnex` the same search with "
            "scikit-learn-intelex's SVC patched in (only where it is installed).",
            ""] + rows


def render_scatter(p):
    if not p["installed"]:
        return [p["note"]]
    rows = table(["dataset", "with / without torch-scatter"],
                 ([name, f"{r['ratio_with_over_without']:.3f}"]
                  for name, r in p["datasets"].items()))
    return [f"torch-scatter {p['version']}; {p['how']}.", ""] + rows


def render_throughput(p):
    rows = table(
        ["dataset", "train graphs/s", "embed graphs/s", "epoch (s)"],
        ([name, f"{r['train_graphs_per_s']:.0f}",
          f"{r['embed_graphs_per_s']:.0f}", f"{r['epoch_s_estimate']:.2f}"]
         for name, r in p["datasets"].items()))
    return [f"Device {p['device']}, batch {p['batch_size']}, objective "
            f"{p['objective']}.", ""] + rows


def render_floor(p):
    rows = table(
        ["dataset", "fit graphs/s", "floor graphs/s", "fit time / floor time"],
        ([name, f"{r['graphs_per_s']['fit']:.0f}",
          f"{r['graphs_per_s']['floor']:.0f}",
          f"{r['fit_over_floor_time']:.2f}"]
         for name, r in p["datasets"].items()))
    return [f"Target: {p['target']}. {p['epochs']} epochs of `fit` against "
            "the same number of epochs of `train_step` on the batches of "
            f"one epoch collated once beforehand; {p['objective']}, batch "
            f"{p['batch_size']}.", ""] + rows


def render_before(p):
    rows = table(
        ["dataset", f"graphs/s at {p['base']}", "graphs/s now", "speed-up"],
        ([name, f"{r['graphs_per_s']['before']:.0f}",
          f"{r['graphs_per_s']['after']:.0f}", f"{r['speedup']:.2f}x"]
         for name, r in p["datasets"].items()))
    return [f"Target: {p['target']}. {p['how']}; {p['epochs']} epochs per "
            "measurement, the median kept.", ""] + rows


def render_compile(p):
    rows = table(
        ["dataset", "eager epoch (s)", "compiled epoch (s)",
         "compiled / eager", "first compiled epoch (s)"],
        ([name, f"{r['timings']['eager']['median_s']:.3f}",
          f"{r['timings']['compiled']['median_s']:.3f}",
          f"{r['compiled_over_eager']:.2f}", f"{r['first_epoch_s']:.1f}"]
         for name, r in p["datasets"].items()))
    return [p["how"] + ".", ""] + rows


def render_grid(p):
    rows = table(
        ["dataset", "epoch (s) InfoGraph / paper / hcl-code", "SVM (s)",
         "grid share (h)"],
        ([name, " / ".join(f"{r['epoch_s'][k]:.3f}" for k in
                           ("infograph", "paper", "hcl-code")),
          f"{r['svm_s']:.1f}", f"{r['grid_s'] / 3600:.2f}"]
         for name, r in p["datasets"].items()))
    runs = len(p["datasets"]) * sum(p["objectives"].values()) * p["seeds"]
    return [f"{p['how']}. {runs} runs ({p['seeds']} seeds; objectives per "
            f"path {p['objectives']}).", ""] + rows + [
        "", f"Projected wall time of the grid on this machine: "
        f"**{p['total_s'] / 3600:.1f} h**."]


TITLES = {"overhead": "1. Loss overhead of hard negatives",
          "published": "2. Against the published approach",
          "memory": "3. Memory", "svm": "4. Evaluation",
          "scatter": "5. Optional torch-scatter",
          "throughput": "6. Throughput",
          "floor": "7. fit against its compute floor",
          "before": "8. Before and after device batching",
          "compile": "9. torch.compile",
          "grid": "10. The whole grid",
          "views": "11. Two views: drawn per graph on the host, or on whole batches"}
RENDER = {"overhead": render_overhead, "published": render_published,
          "memory": render_memory, "svm": render_svm,
          "scatter": render_scatter, "throughput": render_throughput,
          "floor": render_floor, "before": render_before,
          "compile": render_compile, "grid": render_grid,
          "views": render_views}
RUN = {"overhead": part_overhead, "published": part_published,
       "memory": part_memory, "svm": part_svm, "scatter": part_scatter,
       "throughput": part_throughput, "floor": part_floor,
       "before": part_before, "compile": part_compile, "grid": part_grid,
       "views": part_views}


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
    p.add_argument("--fit-epochs", type=int, default=5,
                   help="epochs per fit measurement (floor, before)")
    p.add_argument("--fit-repeats", type=int, default=3,
                   help="repeats of the floor and before measurements")
    p.add_argument("--grid-epochs", type=int, default=2,
                   help="timed epochs per loss path (grid)")
    p.add_argument("--grid-seeds", type=int, default=10)
    p.add_argument("--base", default=BASE_COMMIT,
                   help="commit that 'before' compares against")
    p.add_argument("--out", default=None, help="default: results/speed, "
                   "results/speed/cuda for --device cuda")
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
    device = resolve_device(args.device)
    speed = Path(__file__).resolve().parent / "results" / "speed"
    out = Path(args.out) if args.out else \
        speed / "cuda" if device.type == "cuda" else speed
    if not args.report_only:
        for part in args.parts:
            path = out / f"{part}.json"
            if path.exists() and not args.force:
                print(f"{part}: kept {path}")
                continue
            start = time.perf_counter()
            result = RUN[part](args, device)
            result["meta"] = {
                **provenance(device), "seed": SEED, "repeats": {"overhead": args.repeats,
                                          "published": args.epoch_repeats,
                                          "compile": args.epoch_repeats,
                                          "floor": args.fit_repeats,
                                          "before": args.fit_repeats,
                                          "grid": 1,
                                          "svm": args.svm_repeats}.get(
                                              part, args.repeats),
                "wall_time_s": time.perf_counter() - start,
                "argv": sys.argv[1:]}
            atomic_write_json(path, result)
            print(f"{part}: wrote {path}")
    page = speed if out == speed / "cuda" else out
    (page / "SPEED.md").write_text(report(page))
    print(f"wrote {page / 'SPEED.md'}")


if __name__ == "__main__":
    main()
