"""Independent reference computations of the objectives, written from the
formulas of docs/method.md with plain Python loops (or, for NT-Xent, as a
cross-entropy), for the tests to compare the vectorised losses against."""
import math

import torch
import torch.nn.functional as F


def sp(x):
    return math.log1p(math.exp(-abs(x))) + max(x, 0.0)


def jsd_by_hand(node, graph, batch, beta=0.0, tau=0.0, mode="paper"):
    """Plain-Python loops over nodes and graphs, straight from docs/method.md."""
    node, graph, batch = node.tolist(), graph.tolist(), batch.tolist()
    G = len(graph)
    s = [[sum(a * b for a, b in zip(n, g, strict=False)) for g in graph] for n in node]
    if mode == "hcl-code":
        negs = [s[i][j] for i in range(len(node)) for j in range(G)
                if j != batch[i]]
        c = max(max(negs), abs(min(negs)))
    e_pos, e_neg = 0.0, 0.0
    for i, row in enumerate(s):
        p = row[batch[i]]
        e_pos += math.log(2) - sp(-p)
        js = [j for j in range(G) if j != batch[i]]
        if mode == "paper":
            ex = [math.exp(beta * row[j]) for j in js]
        else:
            ex = [math.exp(-2 * beta * row[j] / c) for j in js]
        mean_ex = sum(ex) / len(js)
        m = sum(e / mean_ex * sp(row[j]) for e, j in zip(ex, js, strict=False)) / len(js)
        if mode == "paper":
            e_neg += max((m - tau * sp(p)) / (1 - tau), 0.0)
        else:
            e_neg += (m + tau * sp(p)) / (1 - tau)
    n = len(node)
    return (e_neg / n - math.log(2)) - e_pos / n


def infograph_jsd(node, graph, batch):
    """InfoGraph's own form: dense masks, sums over all entries."""
    res = node @ graph.t()
    pos_mask = F.one_hot(batch, graph.size(0)).double()
    neg_mask = 1 - pos_mask
    e_pos = (math.log(2) - F.softplus(-res * pos_mask)).sum() / node.size(0)
    e_neg = (F.softplus(-res * neg_mask) + res * neg_mask - math.log(2)).sum()
    e_neg = e_neg / (node.size(0) * (graph.size(0) - 1))
    return e_neg - e_pos


def nt_xent(z1, z2, t):
    """NT-Xent as a cross-entropy over all other views (SimCLR)."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.t() / t
    n = z1.size(0)
    sim.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(sim, target)


def infonce_by_hand(z1, z2, beta, tau, t, mode="paper"):
    z = F.normalize(torch.cat([z1, z2]), dim=1).tolist()
    n2 = len(z)
    n = n2 // 2
    m = n2 - 2

    def dot(a, b):
        return sum(x * y for x, y in zip(z[a], z[b], strict=False))
    # hcl-code: one scale c, the largest |score| over every negative entry
    c = max(abs(dot(i, j) / t) for i in range(n2) for j in range(n2)
            if j not in (i, (i + n) % n2))
    total = 0.0
    for i in range(n2):
        p = (i + n) % n2
        pos = math.exp(dot(i, p) / t)
        js = [j for j in range(n2) if j not in (i, p)]
        neg = [math.exp(dot(i, j) / t) for j in js]
        k = beta if mode == "paper" else -2 * beta / c
        ex = [math.exp(k * dot(i, j) / t) for j in js]
        w = [e / (sum(ex) / m) for e in ex]
        ng = max((-tau * m * pos + sum(a * b for a, b in zip(w, neg, strict=False))) / (1 - tau),
                 m * math.exp(-1 / t))
        total += -math.log(pos / (pos + ng))
    return total / n2


def pyg_tu_graphs(raw_dir, name):
    """The graphs and sizes of PyG's own TU reader, ``read_tu_data``, with
    the graphs it drops (trailing graphs without edges) restored, and each
    file's last line read where it has no final newline (PyG drops it)."""
    import tempfile
    from pathlib import Path

    from torch_geometric.data import InMemoryDataset
    from torch_geometric.io import read_tu_data

    with tempfile.TemporaryDirectory() as copy:
        for path in Path(raw_dir).glob(f"{name}_*.txt"):
            text = path.read_bytes()
            ends = not text or text.endswith((b"\n", b"\r"))
            (Path(copy) / path.name).write_bytes(text if ends else text + b"\n")
        data, slices, sizes = read_tu_data(copy, name)
    graphs = slices["y"].numel() - 1
    for key in ("edge_index", "edge_attr"):
        if key in slices and slices[key].numel() - 1 < graphs:
            short = graphs + 1 - slices[key].numel()
            slices[key] = torch.cat([slices[key],
                                     slices[key][-1:].repeat(short)])

    class Graphs(InMemoryDataset):
        def __init__(self):
            super().__init__()
            self.data, self.slices = data, slices

    dataset = Graphs()
    return [dataset[i] for i in range(len(dataset))], sizes
