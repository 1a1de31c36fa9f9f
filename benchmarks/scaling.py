"""Scaling benchmark: training throughput with 1 and 2 DDP processes, and
the bytes each process sends per step, measured against a formula.

Each configuration trains the default objective (paper, beta 1, tau+ 0.5) for
``--warmup`` epochs, then times ``--epochs`` more; the global batch is the
same for all (``--batch-size`` graphs, split over the processes). Bytes are
measured as the growth of the loopback interface's transmit counter
(``/proc/net/dev``), which on one machine carries every byte that ``gloo``
sends, TCP/IP headers included. The formula (see ``SCALING.md``) counts the
payloads of the collectives; the ``collectives`` part measures each
collective's bytes against its payload to check its constants.

    python benchmarks/scaling.py                    # all parts, resumable
    python benchmarks/scaling.py --force            # redo
    python benchmarks/scaling.py --report-only      # rebuild SCALING.md

Writes ``benchmarks/results/scaling/<part>.json`` and ``SCALING.md``.
"""
from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
import torch.distributed._functional_collectives as funcol
import torch.multiprocessing as mp

from hngraph import InfoGraph, load_tudataset, seed_everything
from hngraph.distributed import all_sum
from hngraph.results import atomic_write_json, provenance
from hngraph.train.loop import fit, train_loader

DATASETS = ("MUTAG", "PROTEINS", "NCI1", "REDDIT-BINARY")
SEED = 0


def loopback_tx() -> int:
    """Bytes sent through the loopback interface so far (Linux)."""
    for line in Path("/proc/net/dev").read_text().splitlines():
        name, _, counters = line.partition(":")
        if name.strip() == "lo":
            return int(counters.split()[8])
    raise RuntimeError("no loopback interface in /proc/net/dev")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(fn, nproc: int, *args) -> dict:
    """Run ``fn(rank, world, init, out, *args)`` in ``nproc`` processes;
    returns what rank 0 saved."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.pt"
        init = f"tcp://127.0.0.1:{_free_port()}"
        mp.spawn(fn, args=(nproc, init, str(out), *args), nprocs=nproc)
        return torch.load(out, weights_only=False)


def _join(rank: int, world: int, init: str, threads: int) -> None:
    torch.set_num_threads(threads)
    if world > 1:
        # A worker that cannot join fails within minutes instead of hanging.
        dist.init_process_group("gloo", init_method=init, rank=rank,
                                world_size=world,
                                timeout=timedelta(minutes=5))


def _throughput_worker(rank, world, init, out, name, batch, warmup, epochs,
                       min_steps, threads, device):
    """Train ``warmup`` epochs with :func:`hngraph.train.loop.fit`, then time
    ``epochs`` more of ``fit`` (more if needed to make ``min_steps`` steps);
    rank 0 saves the result."""
    _join(rank, world, init, threads)
    dataset = load_tudataset(name)
    seed_everything(SEED)
    device = torch.device(device)
    model = InfoGraph(dataset.num_features, beta=1.0, tau_plus=0.5)
    per_epoch = len(train_loader(dataset, batch // world, SEED))
    epochs = max(epochs, -(-min_steps // per_epoch))
    settings = dict(batch_size=batch // world, seed=SEED, device=device,
                    progress=False)
    fit(model, dataset, epochs=warmup, **settings)
    if world > 1:
        dist.barrier()
    sent, start = loopback_tx(), time.perf_counter()
    fit(model, dataset, epochs=epochs, **settings)
    steps = epochs * per_epoch
    graphs = epochs * -(-len(dataset) // world)  # DistributedSampler pads
    if world > 1:
        dist.barrier()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    sent = loopback_tx() - sent
    graphs = int(all_sum([graphs])[0])
    if rank == 0:
        params = sum(p.numel() for p in model.parameters())
        torch.save({"dataset": name, "processes": world,
                    "device": device.type,
                    "threads_per_process": threads, "global_batch": batch,
                    "epochs_timed": epochs, "graphs": graphs,
                    "seconds": seconds, "graphs_per_s": graphs / seconds,
                    "steps_per_process": steps,
                    "loopback_bytes": sent,
                    "bytes_per_step_per_process": sent / steps / world,
                    "parameters": params,
                    "embedding_dim": model.encoder.out_dim,
                    "bn_layers": model.encoder.layers,
                    "bn_width": model.encoder.hidden}, out)
    if world > 1:
        dist.destroy_process_group()


def _collectives_worker(rank, world, init, out, numel, repeats):
    """Bytes on the loopback per call of each collective hngraph uses, and
    the time of one call on a small tensor (65 values: one batch-norm
    layer's statistics)."""
    _join(rank, world, init, 1)
    group = dist.group.WORLD
    calls = {  # label: (call, bytes a ring algorithm sends per process)
        "all_reduce (DDP gradients)":
            (lambda x: dist.all_reduce(x), 2 * (world - 1) / world * 4 * numel),
        "all_gather (graph embeddings, batch norm; forward)":
            (lambda x: funcol.wait_tensor(funcol.all_gather_single(
                x, 0, group)), (world - 1) * 4 * numel),
        "reduce_scatter (the same; backward)":
            (lambda x: funcol.wait_tensor(funcol.reduce_scatter_tensor(
                torch.cat([x] * world), "sum", 0, group)),
             (world - 1) * 4 * numel),
    }
    big, small = torch.randn(numel), torch.randn(65)
    result = {}
    for label, (call, ring) in calls.items():
        call(big)
        dist.barrier()
        sent = loopback_tx()
        for _ in range(repeats):
            call(big)
        dist.barrier()
        per_call = (loopback_tx() - sent) / repeats / world
        start = time.perf_counter()
        for _ in range(200):
            call(small)
        latency = (time.perf_counter() - start) / 200
        result[label] = {"ring_bytes": ring, "sent_per_process": per_call,
                         "ratio": per_call / ring,
                         "small_call_ms": 1e3 * latency}
    if rank == 0:
        torch.save(result, out)
    dist.destroy_process_group()


#: Bytes that ``gloo``'s reduce-scatter sends over a ring's: it runs an
#: all-reduce of the whole input (measured by the ``collectives`` part).
GLOO_REDUCE_SCATTER = 2.0


def formula_bytes(params: int, local_graphs: int, dim: int, layers: int,
                  width: int, world: int, reduce_scatter: float = 1.0
                  ) -> dict:
    """Payload bytes one process sends per step (float32).

    With ``W`` processes, ``P`` parameters, ``G_r`` graphs per process,
    graph embeddings of width ``D`` and ``L`` batch-norm layers of width
    ``C``:

    * gradients, DDP's ring all-reduce: ``2 (W-1)/W * 4 P``;
    * graph embeddings, all-gather forward: ``(W-1) * 4 G_r D``, and
      reduce-scatter backward: ``r * (W-1) * 4 G_r D`` (``r = 1`` for a ring,
      as NCCL; ``r = 2`` on gloo, :data:`GLOO_REDUCE_SCATTER`);
    * batch norm: per layer, an all-gather of ``2C + 1`` statistics
      forward and a reduce-scatter backward: ``L (1 + r) (W-1) 4 (2C + 1)``.

    The counts gathered with the embeddings add ``16 (W-1)`` bytes; TCP/IP
    and gloo headers are not counted.
    """
    ring = 2 * (world - 1) / world
    terms = {"gradients": ring * 4 * params,
             "graph_embeddings": (1 + reduce_scatter) * (world - 1) * 4
             * local_graphs * dim + 16 * (world - 1),
             "batch_norm": layers * (1 + reduce_scatter) * (world - 1) * 4
             * (2 * width + 1)}
    terms["total"] = sum(terms.values())
    return terms


def run_throughput(args, out: Path) -> None:
    cores = os.cpu_count() or 1
    # 1 process with all cores, 1 process with 1 core, 2 processes.
    # 1 process with all cores, 1 process with 1 core, 2 processes, and
    # 1 process on the GPU where there is one.
    setups = [(1, cores, "cpu"), (1, 1, "cpu"), (2, max(1, cores // 2), "cpu")]
    if torch.cuda.is_available():
        setups.append((1, cores, "cuda"))
    for name in args.datasets:
        for world, threads, device in setups:
            suffix = "-cuda" if device == "cuda" else ""
            path = out / f"throughput_{name}_{world}x{threads}{suffix}.json"
            if path.exists() and not args.force:
                continue
            res = _spawn(_throughput_worker, world, name, args.batch_size,
                         args.warmup, args.epochs, args.min_steps, threads,
                         device)
            res.update(**provenance(device), seed=SEED)
            atomic_write_json(path, res)
            print(f"{name} {world} x {threads} {device}: "
                  f"{res['graphs_per_s']:.0f} "
                  f"graphs/s, {res['bytes_per_step_per_process']:.0f} B "
                  f"sent per step per process", flush=True)


def step_formula(res: dict) -> dict:
    """:func:`formula_bytes` for a throughput result, with the mean number
    of graphs a process held per step (last batches are smaller)."""
    world = res["processes"]
    local = res["graphs"] / world / res["steps_per_process"]
    return formula_bytes(res["parameters"], local, res["embedding_dim"],
                         res["bn_layers"], res["bn_width"], world,
                         GLOO_REDUCE_SCATTER)


def run_collectives(args, out: Path) -> None:
    path = out / "collectives.json"
    if path.exists() and not args.force:
        return
    res = _spawn(_collectives_worker, 2, 1 << 20, 20)
    atomic_write_json(path, {"processes": 2, "numel": 1 << 20, "repeats": 20,
                             "calls": res, **provenance()})


def report(out: Path) -> Path:
    import json
    rows = [json.loads(p.read_text())
            for p in sorted(out.glob("throughput_*.json"))]
    coll = out / "collectives.json"
    lines = ["# Scaling: DDP training", "",
             "Generated by `python benchmarks/scaling.py` from the JSON "
             "files beside this one (`--report-only` rebuilds it).", "",
             "## Measured on this machine", ""]
    if rows:
        m = rows[0]["machine"]
        lines += [f"Machine: {m['cpu_count']} CPU cores, torch {m['torch']}, "
                  f"commit {rows[0]['commit']}. Global batch "
                  f"{rows[0]['global_batch']} graphs, default objective "
                  f"(paper, beta 1, tau+ 0.5), {rows[0]['epochs_timed']} "
                  "timed epochs after a warm-up.", "",
                  "| dataset | processes x threads | graphs/s | speed-up | "
                  "bytes sent per step per process: measured | formula | "
                  "measured / formula |",
                  "|---|---|---|---|---|---|---|"]
        cores = m["cpu_count"]
        base = {r["dataset"]: r["graphs_per_s"] for r in rows
                if r["processes"] == 1 and r["threads_per_process"] == cores
                and r.get("device", "cpu") == "cpu"}
        for r in sorted(rows, key=lambda r: (DATASETS.index(r["dataset"])
                                             if r["dataset"] in DATASETS
                                             else 99, r["processes"],
                                             -r["threads_per_process"])):
            f = step_formula(r)["total"] if r["processes"] > 1 else 0
            meas = r["bytes_per_step_per_process"]
            ratio = f"{meas / f:.3f}" if f else "n/a"
            speed = r["graphs_per_s"] / base[r["dataset"]] \
                if r["dataset"] in base else float("nan")
            lines.append(
                f"| {r['dataset']} | {r['processes']} x "
                f"{r['threads_per_process']}"
                f"{' (GPU)' if r.get('device') == 'cuda' else ''} | "
                f"{r['graphs_per_s']:.0f} | "
                f"{speed:.2f}x | {meas:,.0f} | {f:,.0f} | {ratio} |")
    if rows and coll.exists():
        lines += step_times(rows, json.loads(coll.read_text()))
    if coll.exists():
        c = json.loads(coll.read_text())
        lines += ["", f"Collectives, 2 processes, {c['numel']:,} float32 "
                  "values a call (bytes on the loopback per process and "
                  "call, against what a ring algorithm sends):", "",
                  "| collective | ring algorithm | sent | sent / ring | "
                  "time of a 65-value call |", "|---|---|---|---|---|"]
        for label, v in c["calls"].items():
            lines.append(f"| {label} | {v['ring_bytes']:,.0f} | "
                         f"{v['sent_per_process']:,.0f} | {v['ratio']:.3f} | "
                         f"{v['small_call_ms']:.2f} ms |")
    if rows:
        lines += expectations(rows)
    path = out / "SCALING.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def step_times(rows: list[dict], coll: dict) -> list[str]:
    """Why DDP does or does not pay on this machine: step times and the
    cost of the collectives a step makes."""
    per_step = {}
    for r in rows:
        if r.get("device", "cpu") != "cpu":
            continue
        per_step.setdefault(r["dataset"], {})[
            (r["processes"], r["threads_per_process"])] = \
            1e3 * r["global_batch"] / r["graphs_per_s"]
    layers = rows[0]["bn_layers"]
    cores = rows[0]["machine"]["cpu_count"]
    count = 2 * layers + 4
    small = [v["small_call_ms"] for v in coll["calls"].values()]
    lines = ["", "Milliseconds per step of the global batch "
             "(processes x threads):", "",
             "| dataset | " + " | ".join(f"{w} x {t}" for w, t in
                                        sorted(next(iter(per_step.values())),
                                               key=lambda k: (k[0], -k[1])))
             + " |", "|---|---|---|---|"]
    order = sorted(per_step, key=lambda n: DATASETS.index(n)
                   if n in DATASETS else 99)
    for name in order:
        times = per_step[name]
        keys = sorted(times, key=lambda k: (k[0], -k[1]))
        lines.append(f"| {name} | " + " | ".join(f"{times[k]:.1f}"
                                                   for k in keys) + " |")
    lines += [
        "", f"A DDP step makes {count} collectives: per batch-norm layer an "
        "all-gather forward and a reduce-scatter backward "
        f"({2 * layers}), the counts and the graph embeddings (an all-gather "
        "forward, a reduce-scatter backward), and DDP's all-reduce of the "
        f"gradients. One small call takes {min(small):.2f} to "
        f"{max(small):.2f} ms here (loopback TCP, measured below), so about "
        f"{count * min(small):.0f} to {count * max(small):.0f} ms a step go "
        "to collectives, plus the wait for the slower process at each of "
        "them."]
    threads = [t[(1, cores)] / t[(1, 1)] for t in per_step.values()
               if (1, 1) in t and (1, cores) in t and cores > 1]
    ddp = [t[(2, cores // 2)] / t[(1, 1)] for t in per_step.values()
           if (1, 1) in t and (2, cores // 2) in t]
    if threads and ddp:
        gains = [n for n, t in per_step.items()
                 if (2, cores // 2) in t and (1, cores) in t
                 and t[(2, cores // 2)] < t[(1, cores)]]
        lines += [
            "", f"One process with {cores} threads takes "
            f"{min(threads):.2f} to {max(threads):.2f} times the step time "
            "of one thread; two processes of one thread take "
            f"{min(ddp):.2f} to {max(ddp):.2f} times it. Two processes "
            f"beat one process with all {cores} threads on: "
            f"{', '.join(gains) or 'none of these datasets'}. Split over two "
            "processes, the arithmetic per core halves, but each process "
            "still pays a whole step's fixed cost (Python, batching, "
            "operator dispatch) and the collectives are added."]
    return lines


def expectations(rows: list[dict]) -> list[str]:
    """What the formula predicts for more processes, with this model."""
    r = max(rows, key=lambda r: r["parameters"])
    p, d = r["parameters"], r["embedding_dim"]
    layers, width = r["bn_layers"], r["bn_width"]
    two = [x for x in rows if x["processes"] == 2]
    lines = [
        "", "## What to expect with more GPUs or machines", "",
        "Every step, each of the `W` processes sends (float32 payload; "
        "`P` parameters, `G_r` graphs per process, graph embeddings of "
        "width `D`, `L` batch-norm layers of width `C`):", "",
        "    bytes = 2 (W-1)/W * 4 P               gradients (DDP ring all-reduce)",
        "          + (1 + r) (W-1) * 4 G_r D       graph embeddings (all-gather, "
        "and its backward, a reduce-scatter)",
        "          + L (1 + r) (W-1) * 4 (2C+1)    batch-norm statistics "
        "(the same two collectives)", "",
        "with `r = 1` for a ring reduce-scatter (NCCL) and `r = 2` on gloo, "
        "which runs the reduce-scatter as an all-reduce (see the "
        "collectives' table). No term depends on the number of nodes: node "
        "embeddings never leave their process. With `--objective infonce` "
        "both views are gathered: `D` is twice the projection width.",
    ]
    if two:
        checks = ", ".join(
            f"{x['dataset']} {x['bytes_per_step_per_process'] / step_formula(x)['total']:.3f}"
            for x in two)
        lines += ["", f"Check (2 processes, gloo, measured / formula): "
                  f"{checks}. The excess is TCP/IP and gloo headers."]
    lines += ["", f"With this model (`P` = {p:,}, `D` = {d}, `L` = {layers}, "
              f"`C` = {width}) and `G_r` = 128 graphs per process, NCCL:", "",
              "| processes W | gradients | graph embeddings | batch norm | "
              "total per step |", "|---|---|---|---|---|"]
    for world in (2, 8, 64, 512):
        f = formula_bytes(p, 128, d, layers, width, world, 1.0)
        lines.append(f"| {world} | {f['gradients'] / 1e6:.2f} MB | "
                     f"{f['graph_embeddings'] / 1e6:.2f} MB | "
                     f"{f['batch_norm'] / 1e3:.1f} kB | "
                     f"{f['total'] / 1e6:.2f} MB |")
    lines += [
        "",
        "- The gradient term stays below `8 P` bytes whatever `W`; the "
        "graph-embedding term grows linearly with `W`, because every process "
        "receives every other process's embeddings. It overtakes the "
        "gradients from about `W = P / (G_r D) + 1` processes. Even at "
        "`W = 512` it is a few tens of MB per step: under 10 ms on a "
        "100 Gb/s link, and much less on NVLink.",
        "- Computation grows with `W` too: each process scores its `N_r` "
        "nodes against all `W G_r` graphs, an `[N_r, W G_r]` matrix, so the "
        "loss's share of a step grows linearly with `W` (the rest of the "
        "step does not). Bound its memory with `--chunk-size` "
        "(`benchmarks/results/speed/SPEED.md`, part 3).",
        "- Two processes with batch `B` each train exactly as one process "
        "with batch `2B` (tested), not as one with batch `B`: more "
        "processes mean a larger global batch, more negatives per anchor "
        "and fewer steps per epoch, so the learning rate and epochs may "
        "need retuning.",
        "- On one CPU machine, DDP splits the cores between processes; "
        "the table above compares 1 process using all cores with 2 using "
        "half each. GPU rows measured: "
        f"{sum(r.get('device') == 'cuda' for r in rows)}.",
    ]
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="*", default=list(DATASETS))
    p.add_argument("--batch-size", type=int, default=128,
                   help="global batch, split over the processes")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--min-steps", type=int, default=40,
                   help="time at least this many steps per process")
    p.add_argument("--out", default=str(Path(__file__).parent / "results"
                                        / "scaling"))
    p.add_argument("--force", action="store_true")
    p.add_argument("--report-only", action="store_true")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        if not Path("/proc/net/dev").exists():
            sys.exit("scaling.py measures bytes on the loopback interface "
                     "through /proc/net/dev, which needs Linux.")
        run_collectives(args, out)
        run_throughput(args, out)
    print(f"report: {report(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
