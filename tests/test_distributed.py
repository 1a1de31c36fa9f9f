"""DDP with negatives gathered across processes.

The equivalence test: 2 processes (CPU, gloo) holding the two parts of a
batch give the same loss and the same gradients as 1 process holding the
whole batch, in float64. The parts have different sizes on purpose.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch_geometric.data import Batch, Data

from hngraph import GraphCL, InfoGraph, hard_infonce, seed_everything
from hngraph.distributed import seed_stream, unwrap, wrap

SPLIT = 5  # rank 0 holds graphs [0, 5), rank 1 graphs [5, 12)

MODELS = {
    "infograph": dict(beta=0.0, tau_plus=0.0),
    "paper": dict(beta=1.0, tau_plus=0.5, reweight="paper"),
    "reference": dict(beta=2.0, tau_plus=0.5, reweight="hcl-code"),
    "reference-chunked": dict(beta=10.0, tau_plus=0.5, reweight="hcl-code",
                              chunk_size=7),
    "prior-free-graphcl": None,  # GraphCL, identity views
}


def _graphs(count=12, in_dim=4):
    gen = torch.Generator().manual_seed(7)
    graphs = []
    for _ in range(count):
        n = int(torch.randint(3, 9, (1,), generator=gen))
        edges = torch.randint(0, n, (2, 2 * n), generator=gen)
        edges = torch.cat([edges, edges.flip(0)], dim=1)
        graphs.append(Data(x=torch.randn(n, in_dim, generator=gen,
                                          dtype=torch.float64),
                           edge_index=edges, num_nodes=n))
    return graphs


def _model(name):
    seed_everything(0)
    if MODELS[name] is None:
        model = GraphCL(4, hidden=8, layers=2, beta=1.0, tau_plus=0.1,
                        aug1="feature_mask", aug2="feature_mask",
                        aug_ratio=0.0)
    else:
        model = InfoGraph(4, hidden=8, layers=2, **MODELS[name])
    return model.double()


def _step(model, step, batch):
    """Loss and gradients of one training step."""
    model.train()
    model.zero_grad()
    loss = step(batch)
    loss.backward()
    grads = {k: p.grad.clone() for k, p in model.named_parameters()}
    buffers = {k: b.clone() for k, b in model.named_buffers()}
    return loss.detach(), grads, buffers


def _worker(rank, out, init):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    graphs = _graphs()
    part = graphs[:SPLIT] if rank == 0 else graphs[SPLIT:]
    batch = Batch.from_data_list(part)
    results = {}
    for name in MODELS:
        model = _model(name)
        ddp = wrap(model, torch.device("cpu"))
        loss, grads, buffers = _step(model, ddp, batch)
        dist.all_reduce(loss)  # DDP averages gradients: the global loss
        results[name] = (loss / 2, grads, buffers)
        unwrap(model)
    # The loss function alone, on leaf embeddings of different sizes.
    gen = torch.Generator().manual_seed(3)
    z1 = torch.randn(12, 6, generator=gen, dtype=torch.float64)
    z2 = torch.randn(12, 6, generator=gen, dtype=torch.float64)
    rows = slice(0, SPLIT) if rank == 0 else slice(SPLIT, 12)
    a, b = z1[rows].requires_grad_(), z2[rows].requires_grad_()
    loss = hard_infonce(a, b, beta=2.0, tau_plus=0.2, temperature=0.3,
                        distributed=True)
    loss.backward()
    loss = loss.detach()
    dist.all_reduce(loss)
    # Each process's leaf gradient sums all processes' losses: halve it for
    # the gradient of their mean.
    results["hard_infonce"] = (loss / 2, a.grad / 2, b.grad / 2)
    torch.save(results, Path(out) / f"rank{rank}.pt")
    dist.destroy_process_group()


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    init = f"file://{out / 'rendezvous'}"
    mp.spawn(_worker, args=(str(out), init), nprocs=2)
    return [torch.load(out / f"rank{r}.pt", weights_only=False)
            for r in range(2)]


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.slow  # the ranks fixture starts 2 processes
def test_two_processes_equal_one_process_with_the_union(ranks, name):
    model = _model(name)
    loss, grads, buffers = _step(model, model.loss,
                                 Batch.from_data_list(_graphs()))
    for rank in range(2):
        d_loss, d_grads, d_buffers = ranks[rank][name]
        assert torch.allclose(d_loss, loss, rtol=1e-10, atol=1e-12), rank
        for key, grad in grads.items():
            assert torch.allclose(d_grads[key], grad, rtol=1e-8,
                                  atol=1e-11), (rank, key)
        for key, buf in buffers.items():  # synchronised batch-norm stats
            assert torch.allclose(d_buffers[key].double(), buf.double(),
                                  rtol=1e-10, atol=1e-12), (rank, key)


@pytest.mark.slow  # the ranks fixture starts 2 processes
def test_gathered_infonce_equals_the_union(ranks):
    gen = torch.Generator().manual_seed(3)
    z1 = torch.randn(12, 6, generator=gen, dtype=torch.float64,
                     requires_grad=True)
    z2 = torch.randn(12, 6, generator=gen, dtype=torch.float64,
                     requires_grad=True)
    loss = hard_infonce(z1, z2, beta=2.0, tau_plus=0.2, temperature=0.3)
    loss.backward()
    for rank, rows in enumerate((slice(0, SPLIT), slice(SPLIT, 12))):
        d_loss, g1, g2 = ranks[rank]["hard_infonce"]
        assert torch.allclose(d_loss, loss.detach(), rtol=1e-12)
        assert torch.allclose(g1, z1.grad[rows], rtol=1e-9, atol=1e-12)
        assert torch.allclose(g2, z2.grad[rows], rtol=1e-9, atol=1e-12)


@pytest.mark.slow  # the ranks fixture starts 2 processes
def test_in_batch_negatives_alone_differ(ranks):
    """The test above can fail: without gathering, each process contrasts
    only its own graphs and the loss is another number."""
    graphs = _graphs()
    model = _model("paper")
    parts = [Batch.from_data_list(graphs[:SPLIT]),
             Batch.from_data_list(graphs[SPLIT:])]
    local = sum(model.loss(p).item() for p in parts) / 2
    assert abs(local - ranks[0]["paper"][0].item()) > 1e-3


def test_distributed_without_a_process_group_is_a_clear_error():
    z = torch.randn(4, 3)
    with pytest.raises(ValueError, match="no torch.distributed process group"):
        hard_infonce(z, z + 1, distributed=True)


def test_seed_streams_differ_per_rank_and_epoch():
    streams = {seed_stream(s, r, e) for s in range(3) for r in range(4)
               for e in range(5)}
    assert len(streams) == 60
    assert seed_stream(1, 0, 0) == seed_stream(1, 0, 0)
    assert all(0 <= s < 2**63 for s in streams)


@pytest.mark.slow
def test_cli_two_processes(data_root, tmp_path):
    """``hngraph train --nproc 2``: one result, written by rank 0, one
    report printed; a single-process run of the same settings writes a file
    of its own (the number of processes changes the result)."""
    base = [sys.executable, "-m", "hngraph.cli", "train", "--dataset",
            "MUTAG", "--batch-size", "32", "--out", str(tmp_path), "--quiet",
            "--checkpoint-every", "1", "--epochs", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run(base + ["--nproc", "2"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count("accuracy ") == 1
    [result] = [json.loads(p.read_text()) for p in tmp_path.glob("*.json")]
    assert result["processes"] == 2
    assert len(result["loss_history"]) == 2
    assert 0.5 < result["accuracy_mean"] <= 1.0
    # Its training checkpoint knows it came from 2 processes.
    [ckpt] = tmp_path.glob("*.train.pt")
    assert torch.load(ckpt, weights_only=False)["processes"] == 2
    single = subprocess.run(base, capture_output=True, text=True, env=env,
                            timeout=300)
    assert single.returncode == 0, single.stderr[-3000:]
    results = [json.loads(p.read_text()) for p in tmp_path.glob("*.json")]
    assert sorted(r["processes"] for r in results) == [1, 2]


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")
@pytest.mark.parametrize("how", ["kill", "interrupt"])
def test_workers_end_with_their_launcher(data_root, tmp_path, how):
    cmd = [sys.executable, "-m", "hngraph.cli", "train", "--dataset",
           "PROTEINS", "--epochs", "500", "--nproc", "2", "--quiet",
           "--out", str(tmp_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launcher = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
    deadline = time.time() + 120
    workers = []
    while time.time() < deadline and len(workers) < 2:
        workers = [w for w in _children(launcher.pid) if _alive(w)]
        time.sleep(0.2)
    assert len(workers) == 2, launcher.stderr.read() if launcher.poll() \
        else "workers did not start"
    time.sleep(3)  # let them start training
    if how == "kill":
        launcher.send_signal(signal.SIGKILL)
    else:  # Ctrl-C reaches the whole foreground process group
        os.killpg(launcher.pid, signal.SIGINT)
    _, err = launcher.communicate(timeout=60)
    deadline = time.time() + 30
    while time.time() < deadline and any(map(_alive, workers)):
        time.sleep(0.2)
    assert not any(map(_alive, workers))
    assert not list(tmp_path.glob("*.json"))
    if how == "interrupt":
        assert launcher.returncode == 130
        lines = [ln for ln in err.splitlines() if ln.startswith("hngraph:")]
        assert lines == [lines[0]] and "interrupted" in lines[0]
