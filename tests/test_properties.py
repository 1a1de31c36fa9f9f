"""Property tests of the losses on random batch shapes and score ranges."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import infograph_jsd, nt_xent

from hngraph.losses import hard_infonce, jsd_local_global, negative_weights

MODES = st.sampled_from(["paper", "reference"])


@st.composite
def batches(draw):
    num_graphs = draw(st.integers(2, 7))
    sizes = draw(st.lists(st.integers(1, 5), min_size=num_graphs,
                          max_size=num_graphs))
    dim = draw(st.integers(1, 6))
    scale = draw(st.sampled_from([1e-3, 1e-1, 1.0, 10.0, 300.0]))
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    batch = torch.arange(num_graphs).repeat_interleave(torch.tensor(sizes))
    node = torch.randn(len(batch), dim, generator=g, dtype=torch.float64)
    graph = torch.randn(num_graphs, dim, generator=g, dtype=torch.float64)
    return node * scale ** 0.5, graph * scale ** 0.5, batch, g


@settings(max_examples=60, deadline=None)
@given(batches(), st.floats(0, 50), st.floats(0, 0.95), MODES)
def test_loss_and_gradients_finite(data, beta, tau, mode):
    node, graph, batch, _ = data
    node, graph = node.clone().requires_grad_(), graph.clone().requires_grad_()
    loss = jsd_local_global(node, graph, batch, beta=beta, tau_plus=tau,
                            reweight=mode)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(node.grad).all() and torch.isfinite(graph.grad).all()


@settings(max_examples=60, deadline=None)
@given(batches(), st.floats(0, 20), st.floats(0, 0.9), MODES)
def test_invariant_to_graph_order(data, beta, tau, mode):
    node, graph, batch, g = data
    perm = torch.randperm(graph.size(0), generator=g)  # new id of each graph
    inv = torch.argsort(perm)
    node_order = torch.randperm(node.size(0), generator=g)
    a = jsd_local_global(node, graph, batch, beta=beta, tau_plus=tau,
                         reweight=mode)
    b = jsd_local_global(node[node_order], graph[inv], perm[batch][node_order],
                         beta=beta, tau_plus=tau, reweight=mode)
    assert b.item() == pytest.approx(a.item(), rel=1e-9, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(batches(), MODES)
def test_beta0_tau0_is_plain_infograph(data, mode):
    node, graph, batch, _ = data
    assert jsd_local_global(node, graph, batch, reweight=mode).item() == \
        pytest.approx(infograph_jsd(node, graph, batch).item(), rel=1e-9,
                      abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 9), st.integers(1, 8), st.floats(0.05, 2.0),
       st.integers(0, 2**31 - 1))
def test_infonce_beta0_tau0_is_nt_xent(graphs, dim, t, seed):
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(graphs, dim, generator=g, dtype=torch.float64)
    z2 = torch.randn(graphs, dim, generator=g, dtype=torch.float64)
    assert hard_infonce(z1, z2, temperature=t).item() == pytest.approx(
        nt_xent(z1, z2, t).item(), rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 9), st.integers(1, 8), st.floats(0, 30),
       st.floats(0, 0.9), st.floats(0.02, 2.0), st.integers(0, 2**31 - 1))
def test_infonce_finite(graphs, dim, beta, tau, t, seed):
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(graphs, dim, generator=g, requires_grad=True)
    z2 = torch.randn(graphs, dim, generator=g)
    loss = hard_infonce(z1, z2, beta, tau, t)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z1.grad).all()


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 12), st.floats(0.01, 100.0), st.integers(0, 2**31 - 1),
       st.floats(0, 5), st.floats(0, 5))
def test_harder_negative_never_loses_weight(cols, scale, seed, b1, b2):
    # Paper mode: within a row, a higher score never gets a smaller weight,
    # and the hardest negative's weight does not fall as beta grows.
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(3, cols, generator=g, dtype=torch.float64) * scale
    mask = torch.ones_like(scores, dtype=torch.bool)
    mask[:, 0] = False
    lo, hi = sorted((b1, b2))
    w_lo = negative_weights(scores, mask, lo)
    w_hi = negative_weights(scores, mask, hi)
    for w in (w_lo, w_hi):
        for r in range(3):
            order = torch.argsort(scores[r, 1:])
            assert torch.all(torch.diff(w[r, 1:][order]) >= -1e-12)
    hardest = scores[:, 1:].argmax(1) + 1
    rows = torch.arange(3)
    assert torch.all(w_hi[rows, hardest] >= w_lo[rows, hardest] - 1e-9)
