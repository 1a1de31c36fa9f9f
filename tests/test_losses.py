"""Losses against independent hand computations (docs/method.md)."""
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import infograph_jsd, infonce_by_hand, jsd_by_hand, nt_xent, sp

from hngraph.nn.losses import (
    HardInfoNCELoss,
    JSDLocalGlobalLoss,
    hard_infonce,
    jsd_local_global,
    negative_weights,
)


@pytest.fixture
def tiny():
    g = torch.Generator().manual_seed(0)
    node = torch.randn(7, 3, generator=g, dtype=torch.float64)
    graph = torch.randn(3, 3, generator=g, dtype=torch.float64)
    batch = torch.tensor([0, 0, 1, 1, 1, 2, 2])
    return node, graph, batch


def test_closed_form_two_graphs():
    # s = identity: positives score 1, negatives 0.
    eye = torch.eye(2, dtype=torch.float64)
    loss = jsd_local_global(eye, eye, torch.tensor([0, 1]), beta=0,
                            tau_plus=0)
    expected = (math.log(2) - math.log(2)) - (math.log(2) - math.log1p(math.exp(-1)))
    assert loss.item() == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("mode", ["paper", "hcl-code"])
@pytest.mark.parametrize("beta,tau", [(0, 0), (0, 0.5), (1, 0), (1, 0.5),
                                      (2, 0.1), (10, 0.5)])
def test_matches_hand_computation(tiny, mode, beta, tau):
    node, graph, batch = tiny
    loss = jsd_local_global(node, graph, batch, beta=beta, tau_plus=tau,
                            reweight=mode)
    assert loss.item() == pytest.approx(
        jsd_by_hand(node, graph, batch, beta, tau, mode), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("mode", ["paper", "hcl-code"])
def test_beta0_tau0_is_infograph(tiny, mode):
    node, graph, batch = tiny
    loss = jsd_local_global(node, graph, batch, beta=0, tau_plus=0,
                            reweight=mode)
    assert loss.item() == pytest.approx(infograph_jsd(node, graph, batch).item(),
                                        rel=1e-12)


def test_paper_and_reference_differ(tiny):
    node, graph, batch = tiny
    a = jsd_local_global(node, graph, batch, beta=1, tau_plus=0.5)
    b = jsd_local_global(node, graph, batch, beta=1, tau_plus=0.5,
                         reweight="hcl-code")
    assert abs(a.item() - b.item()) > 1e-3


@pytest.mark.parametrize("mode", ["paper", "hcl-code"])
def test_large_beta_and_scores_no_overflow(mode):
    g = torch.Generator().manual_seed(1)
    node = torch.randn(40, 8, generator=g) * 30
    graph = torch.randn(5, 8, generator=g, requires_grad=True)
    batch = torch.arange(5).repeat_interleave(8)
    loss = jsd_local_global(node, graph * 30, batch, beta=50, tau_plus=0.5,
                            reweight=mode)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(graph.grad).all()


@pytest.mark.parametrize("mode", ["paper", "hcl-code"])
@pytest.mark.parametrize("beta,tau", [(0, 0), (1, 0.5), (10, 0.5)])
def test_gradients_finite_and_match_autograd_of_hand(tiny, mode, beta, tau):
    node, graph, batch = tiny
    graph = graph.clone().requires_grad_(True)
    jsd_local_global(node, graph, batch, beta=beta, tau_plus=tau,
                     reweight=mode).backward()
    assert torch.isfinite(graph.grad).all()
    # Finite differences on one coordinate against the hand computation.
    h = 1e-6
    up, down = graph.detach().clone(), graph.detach().clone()
    up[1, 2] += h
    down[1, 2] -= h
    fd = (jsd_by_hand(node, up, batch, beta, tau, mode)
          - jsd_by_hand(node, down, batch, beta, tau, mode)) / (2 * h)
    assert graph.grad[1, 2].item() == pytest.approx(fd, rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("mode", ["paper", "hcl-code"])
def test_masked_entries_have_no_effect(mode):
    # With one-hot node embeddings, s = graph_emb.T entry by entry, so one
    # score can be changed alone. Raising a positive score far above every
    # negative must change the loss only through the positive term E_pos
    # (tau_plus = 0): masked entries enter no mean, no max and no weight.
    batch = torch.tensor([0, 0, 1, 1, 2])
    node = torch.eye(5, dtype=torch.float64)
    g = torch.Generator().manual_seed(3)
    scores = torch.randn(5, 3, generator=g, dtype=torch.float64)
    before = jsd_local_global(node, scores.t().contiguous(), batch, beta=2,
                              tau_plus=0, reweight=mode)
    changed = scores.clone()
    changed[2, 1] = 50.0  # the positive entry of node 2
    after = jsd_local_global(node, changed.t().contiguous(), batch, beta=2,
                             tau_plus=0, reweight=mode)
    d_pos = ((math.log(2) - sp(-50.0)) - (math.log(2) - sp(-scores[2, 1].item()))) / 5
    assert (after - before).item() == pytest.approx(-d_pos, rel=1e-9)


def test_weights_are_a_stable_softmax():
    scores = torch.tensor([[0.0, 1.0, 2.0, 900.0], [3.0, -1.0, 0.5, 0.0]])
    mask = torch.tensor([[False, True, True, True], [True, True, False, True]])
    w = negative_weights(scores, mask, beta=5.0)
    assert torch.isfinite(w).all()
    assert (w[~mask] == 0).all()
    assert torch.allclose(w.sum(1), mask.sum(1).float())  # mean 1 per row
    assert w[0, 3] == pytest.approx(3.0)  # the hardest takes all the weight
    assert w[1, 0] > w[1, 3] > w[1, 1]  # monotone in the score (paper mode)


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, float("nan")])
def test_rejects_bad_tau_plus(tiny, bad):
    with pytest.raises(ValueError, match=r"tau_plus must be a finite number in \[0, 1\)"):
        jsd_local_global(*tiny, tau_plus=bad)
    with pytest.raises(ValueError, match=r"tau_plus must be a finite number in \[0, 1\)"):
        hard_infonce(torch.randn(3, 4), torch.randn(3, 4), tau_plus=bad)


def test_rejects_one_graph_batch():
    with pytest.raises(ValueError, match="at least 2"):
        jsd_local_global(torch.randn(4, 3), torch.randn(1, 3),
                         torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="at least 2"):
        hard_infonce(torch.randn(1, 3), torch.randn(1, 3))


def test_rejects_nan_and_bad_mode(tiny):
    node, graph, batch = tiny
    node = node.clone()
    node[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf"):
        jsd_local_global(node, graph, batch)
    with pytest.raises(ValueError, match="reweight must be one of .paper., .hcl-code."):
        jsd_local_global(*tiny, reweight="hcl")


# ---------------------------------------------------------------- InfoNCE

def test_infonce_beta0_tau0_is_nt_xent():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    for t in (0.1, 0.5, 1.0):
        assert hard_infonce(z1, z2, beta=0, tau_plus=0, temperature=t).item() == pytest.approx(
            nt_xent(z1, z2, t).item(), rel=1e-5)


@pytest.mark.parametrize("beta,tau,t", [(1, 0.1, 0.5), (2, 0.5, 0.5),
                                        (0, 0.3, 0.2), (5, 0.9, 1.0)])
def test_infonce_matches_hand_computation(beta, tau, t):
    g = torch.Generator().manual_seed(2)
    z1 = torch.randn(4, 3, generator=g, dtype=torch.float64)
    z2 = torch.randn(4, 3, generator=g, dtype=torch.float64)
    assert hard_infonce(z1, z2, beta=beta, tau_plus=tau, temperature=t).item() == pytest.approx(
        infonce_by_hand(z1, z2, beta, tau, t), rel=1e-9)


@pytest.mark.parametrize("beta,tau,t", [(1, 0.1, 0.5), (10, 0.5, 0.2)])
def test_infonce_hcl_code_weights_match_hand_computation(beta, tau, t):
    g = torch.Generator().manual_seed(3)
    z1 = torch.randn(5, 3, generator=g, dtype=torch.float64)
    z2 = torch.randn(5, 3, generator=g, dtype=torch.float64)
    assert hard_infonce(z1, z2, beta=beta, tau_plus=tau, temperature=t,
                        reweight="hcl-code").item() \
        == pytest.approx(infonce_by_hand(z1, z2, beta, tau, t, "hcl-code"),
                         rel=1e-9)


def test_loss_modules_equal_the_functions(tiny):
    node, graph, batch = tiny
    for kwargs in (dict(beta=1.0, tau_plus=0.5), dict(
            beta=2.0, tau_plus=0.1, reweight="hcl-code", chunk_size=3)):
        assert JSDLocalGlobalLoss(**kwargs)(node, graph, batch).item() == \
            jsd_local_global(node, graph, batch, **kwargs).item()
    z1, z2 = node[:4], node[3:7]
    assert HardInfoNCELoss(beta=1.0, tau_plus=0.1, temperature=0.2)(z1, z2).item() == \
        hard_infonce(z1, z2, beta=1.0, tau_plus=0.1,
                     temperature=0.2).item()


def test_infonce_stable_for_large_beta_small_temperature():
    g = torch.Generator().manual_seed(4)
    z1 = torch.randn(16, 8, generator=g, requires_grad=True)
    z2 = torch.randn(16, 8, generator=g)
    loss = hard_infonce(z1, z2, beta=50, tau_plus=0.5, temperature=0.005)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z1.grad).all()


def test_infonce_rejects_bad_temperature():
    with pytest.raises(ValueError, match="temperature must be a finite number >= 0.0001"):
        hard_infonce(torch.randn(3, 4), torch.randn(3, 4), temperature=-0.5)


@pytest.mark.parametrize("mode", ["paper", "hcl-code"])
@pytest.mark.parametrize("beta,tau", [(0, 0), (1, 0.5), (10, 0.2)])
@pytest.mark.parametrize("chunk", [1, 3, 7, 100])
def test_chunked_equals_unchunked(mode, beta, tau, chunk):
    g = torch.Generator().manual_seed(5)
    node = torch.randn(23, 4, generator=g, dtype=torch.float64)
    graph = torch.randn(5, 4, generator=g, dtype=torch.float64)
    batch = torch.sort(torch.randint(0, 5, (23,), generator=g)).values
    batch[:5] = torch.arange(5)
    grads = []
    losses = []
    for size in (None, chunk):
        n, h = node.clone().requires_grad_(), graph.clone().requires_grad_()
        loss = jsd_local_global(n, h, batch, beta=beta, tau_plus=tau,
                                reweight=mode, chunk_size=size)
        loss.backward()
        losses.append(loss.item())
        grads.append((n.grad, h.grad))
    assert losses[1] == pytest.approx(losses[0], rel=1e-12, abs=1e-12)
    assert torch.allclose(grads[1][0], grads[0][0], rtol=1e-10, atol=1e-12)
    assert torch.allclose(grads[1][1], grads[0][1], rtol=1e-10, atol=1e-12)
    assert losses[0] == pytest.approx(
        jsd_by_hand(node, graph, batch, beta, tau, mode), rel=1e-10)


MODES = st.sampled_from(["paper", "hcl-code"])


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
    assert jsd_local_global(node, graph, batch, beta=0, tau_plus=0,
                            reweight=mode).item() == \
        pytest.approx(infograph_jsd(node, graph, batch).item(), rel=1e-9,
                      abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 9), st.integers(1, 8), st.floats(0.05, 2.0),
       st.integers(0, 2**31 - 1))
def test_infonce_beta0_tau0_is_nt_xent_for_any_batch(graphs, dim, t, seed):
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(graphs, dim, generator=g, dtype=torch.float64)
    z2 = torch.randn(graphs, dim, generator=g, dtype=torch.float64)
    assert hard_infonce(z1, z2, beta=0, tau_plus=0, temperature=t).item() == pytest.approx(
        nt_xent(z1, z2, t).item(), rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 9), st.integers(1, 8), st.floats(0, 30),
       st.floats(0, 0.9), st.floats(0.02, 2.0), st.integers(0, 2**31 - 1))
def test_infonce_finite(graphs, dim, beta, tau, t, seed):
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(graphs, dim, generator=g, requires_grad=True)
    z2 = torch.randn(graphs, dim, generator=g)
    loss = hard_infonce(z1, z2, beta=beta, tau_plus=tau, temperature=t)
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
    w_lo = negative_weights(scores, mask, beta=lo)
    w_hi = negative_weights(scores, mask, beta=hi)
    for w in (w_lo, w_hi):
        for r in range(3):
            order = torch.argsort(scores[r, 1:])
            assert torch.all(torch.diff(w[r, 1:][order]) >= -1e-12)
    hardest = scores[:, 1:].argmax(1) + 1
    rows = torch.arange(3)
    assert torch.all(w_hi[rows, hardest] >= w_lo[rows, hardest] - 1e-9)


@pytest.mark.parametrize("mode", ["paper", "hcl-code"])
def test_negative_weights_are_differentiable(mode):
    g = torch.Generator().manual_seed(4)
    scores = torch.randn(4, 5, generator=g, dtype=torch.float64,
                         requires_grad=True)
    mask = torch.ones(4, 5, dtype=torch.bool)
    mask[torch.arange(4), torch.arange(4)] = False
    assert torch.autograd.gradcheck(
        lambda s: negative_weights(s, mask, beta=1.5, reweight=mode), (scores,))


def test_no_nodes_is_an_error_not_nan():
    from hngraph import jsd_local_global
    with pytest.raises(ValueError, match="node_emb has no rows"):
        jsd_local_global(torch.zeros(0, 4), torch.randn(3, 4),
                         torch.zeros(0, dtype=torch.long))
