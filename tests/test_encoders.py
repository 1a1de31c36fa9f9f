import math

import torch
from torch_geometric.data import Batch, Data
from torch_geometric.nn import global_add_pool

from hngraph import GINEncoder, InfoGraph


def random_graph(n, gen):
    edge = torch.randint(0, n, (2, 3 * n), generator=gen)
    edge = torch.cat([edge, edge.flip(0)], dim=1)
    return Data(x=torch.randn(n, 4, generator=gen), edge_index=edge)


def test_path_graph_by_hand():
    # One GIN layer with identity MLP weights: h = BN(ReLU((I + A) x)).
    enc = GINEncoder(in_dim=1, hidden=1, layers=1).eval()
    for lin in (enc.convs[0].nn[0], enc.convs[0].nn[2]):
        torch.nn.init.ones_(lin.weight)
        torch.nn.init.zeros_(lin.bias)
    x = torch.tensor([[1.0], [2.0], [3.0]])
    edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    node_emb = enc(x, edge_index)
    graph_emb = global_add_pool(node_emb, torch.zeros(3, dtype=torch.long))
    scale = 1 / math.sqrt(1 + enc.norms[0].eps)
    assert torch.allclose(node_emb.squeeze(), torch.tensor([3.0, 6.0, 5.0]) * scale)
    assert torch.allclose(graph_emb, torch.tensor([[14.0 * scale]]))


def test_shapes_and_permutation_invariance():
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    enc = GINEncoder(4, hidden=8, layers=3)
    graphs = [random_graph(n, gen) for n in (5, 9, 7)]
    batch = Batch.from_data_list(graphs)
    enc.train()
    enc(batch.x, batch.edge_index)  # move BN running stats
    enc.eval()
    n_emb = enc(batch.x, batch.edge_index)
    g_emb = global_add_pool(n_emb, batch.batch)
    assert g_emb.shape == (3, 24) and n_emb.shape == (21, 24)
    # Permute the nodes of the second graph.
    g = graphs[1]
    perm = torch.randperm(g.num_nodes, generator=gen)
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(g.num_nodes)
    permuted = Data(x=g.x[perm], edge_index=inv[g.edge_index])
    batch2 = Batch.from_data_list([graphs[0], permuted, graphs[2]])
    g_emb2 = global_add_pool(enc(batch2.x, batch2.edge_index), batch2.batch)
    assert torch.allclose(g_emb, g_emb2, atol=1e-5)
    assert not torch.allclose(g_emb[0], g_emb[1])


def test_infograph_loss_and_embed():
    gen = torch.Generator().manual_seed(1)
    graphs = [random_graph(6, gen) for _ in range(4)]
    for g, y in zip(graphs, [0, 1, 0, 1], strict=False):
        g.y = torch.tensor([y])
    model = InfoGraph(4, hidden=8, layers=2, beta=1.0, tau_plus=0.5, prior=True)
    loss = model.loss(Batch.from_data_list(graphs))
    loss.backward()
    assert torch.isfinite(loss)
    emb, labels = model.embed([Batch.from_data_list(graphs)])
    assert emb.shape == (4, 16) and labels.tolist() == [0, 1, 0, 1]
    assert model.training  # embed restores the mode


def test_encoder_reset_parameters_and_repr():
    from hngraph import GINEncoder, ProjectionHead
    torch.manual_seed(0)
    encoder = GINEncoder(7, hidden=16, layers=2)
    assert repr(encoder) == "GINEncoder(7, hidden=16, layers=2)"
    first = encoder.convs[0].nn[0].weight.detach().clone()
    with torch.no_grad():
        encoder.norms[0].weight.fill_(3.0)
        encoder.convs[0].nn[0].weight.fill_(9.0)
    encoder.reset_parameters()
    weight = encoder.convs[0].nn[0].weight
    # a fresh draw from PyTorch's default, +-1 / sqrt(fan_in), not the old one
    assert weight.abs().max() <= 1 / 7 ** 0.5 and not torch.equal(weight,
                                                                   first)
    assert torch.all(encoder.norms[0].weight == 1)
    assert ProjectionHead(4)(torch.randn(3, 4)).shape == (3, 4)
