"""Negative weightings: each formula against a hand computation, the
registry's names, and a weighting passed in, of hngraph's or a user's own."""
import math

import pytest
import torch
import torch.nn.functional as F

from hngraph.config import TrainConfig
from hngraph.errors import InvalidValueError
from hngraph.nn.losses import (
    HardInfoNCELoss,
    JSDLocalGlobalLoss,
    hard_infonce,
    jsd_local_global,
    make_weighting,
)
from hngraph.nn.weighting import (
    DebiasedNegatives,
    HardNegatives,
    HCLCodeNegatives,
    SemiHardNegatives,
    UniformNegatives,
)
from hngraph.registry import WEIGHTINGS


def test_semi_hard_weights_a_band_of_ranks_by_hand():
    """Ten negatives with distinct scores, quantiles 0.5 to 0.9: ranks 5 to
    8 (floor 5, ceil 9) weigh 10 / 4 each, the rest 0; the excluded column
    weighs 0 and does not count."""
    scores = torch.tensor([[0.3, -1.0, 2.0, 0.1, 0.9, -0.2, 1.5, 0.0, 0.7,
                            -0.5, 9.0]], dtype=torch.float64)
    mask = torch.ones_like(scores, dtype=torch.bool)
    mask[0, 10] = False                        # the positive, the largest
    w = SemiHardNegatives(low=0.5, high=0.9).weights(scores, mask)
    negatives = scores[0, :10].tolist()
    ranked = sorted(range(10), key=lambda j: negatives[j])
    expected = [0.0] * 11
    for j in ranked[5:9]:
        expected[j] = 10 / 4
    assert w[0].tolist() == expected


def test_semi_hard_band_keeps_one_negative_and_ties_rank_in_column_order():
    scores = torch.tensor([[1.0, 1.0, 1.0]])
    mask = torch.ones_like(scores, dtype=torch.bool)
    w = SemiHardNegatives(low=0.4, high=0.4 + 1e-9).weights(scores, mask)
    assert w.tolist() == [[0.0, 3.0, 0.0]]           # rank floor(1.2) = 1


def test_semi_hard_settings_are_checked():
    with pytest.raises(InvalidValueError, match="high must be above low"):
        SemiHardNegatives(low=0.6, high=0.6)
    with pytest.raises(InvalidValueError, match=r"low must be .*\[0, 1\]"):
        SemiHardNegatives(low=-0.1)
    with pytest.raises(TypeError):
        SemiHardNegatives(0.1, 0.5)        # keyword-only: no silent swap


def _jsd_by_hand(node, graph, batch, weights_of_row, tau):
    """The local-global loss written out row by row: ``weights_of_row(s,
    j_pos)`` gives the row's weights over all columns (0 at the positive)."""
    e_pos, e_neg = [], []
    for i in range(node.size(0)):
        s = graph @ node[i]
        p = int(batch[i])
        w = weights_of_row(s, p)
        m = sum(w[j] * F.softplus(s[j]) for j in range(len(s)) if j != p) / (
            len(s) - 1)
        e_pos.append(math.log(2) - F.softplus(-s[p]))
        e_neg.append(max((m - tau * F.softplus(s[p])) / (1 - tau), 0.0))
    return (sum(e_neg) / len(e_neg) - math.log(2)) - sum(e_pos) / len(e_pos)


def _semi_hard_row(low, high):
    def weights(s, p):
        negatives = [j for j in range(len(s)) if j != p]
        ranked = sorted(negatives, key=lambda j: (float(s[j]), j))
        m = len(negatives)
        lo = math.floor(low * m)
        hi = max(math.ceil(high * m), lo + 1)
        band = ranked[lo:hi]
        return [m / len(band) if j in band else 0.0 for j in range(len(s))]
    return weights


@pytest.mark.parametrize("tau", [0.0, 0.2])
def test_local_global_loss_with_semi_hard_negatives_by_hand(tau):
    g = torch.Generator().manual_seed(5)
    node = torch.randn(9, 4, generator=g, dtype=torch.float64)
    graph = torch.randn(6, 4, generator=g, dtype=torch.float64)
    batch = torch.tensor([0, 0, 1, 2, 2, 3, 4, 5, 5])
    weighting = SemiHardNegatives(low=0.25, high=0.75, tau_plus=tau)
    loss = jsd_local_global(node, graph, batch, weighting=weighting)
    assert loss.item() == pytest.approx(float(_jsd_by_hand(
        node, graph, batch, _semi_hard_row(0.25, 0.75), tau)), rel=1e-12)
    chunked = jsd_local_global(node, graph, batch, weighting=weighting,
                               chunk_size=4)
    assert chunked.item() == pytest.approx(loss.item(), rel=1e-12)


def test_two_view_loss_with_semi_hard_negatives_by_hand():
    """InfoNCE with w over a band: -log p / (p + M mean_j w_j n_j)."""
    g = torch.Generator().manual_seed(6)
    z1 = torch.randn(5, 3, generator=g, dtype=torch.float64)
    z2 = torch.randn(5, 3, generator=g, dtype=torch.float64)
    t = 0.5
    loss = hard_infonce(z1, z2, temperature=t,
                        weighting=SemiHardNegatives(low=0.0, high=0.5))
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    total = 0.0
    for i in range(10):
        partner = (i + 5) % 10
        s = (z @ z[i]) / t
        excluded = s.clone()
        excluded[i] = excluded[partner] = float("nan")
        weights = _semi_hard_row(0.0, 0.5)(
            torch.cat([s[:i], s[i + 1:]]), partner - (partner > i))
        weights.insert(i, 0.0)
        m = 8
        neg = sum(weights[j] * math.exp(s[j]) for j in range(10)
                  if j not in (i, partner)) / m
        n_i = max(neg, math.exp(-1 / t)) * m
        p = math.exp(s[partner])
        total += -math.log(p / (p + n_i))
    assert loss.item() == pytest.approx(total / 10, rel=1e-12)


@pytest.mark.parametrize("tau", [0.0, 0.3])
def test_uniform_and_debiased_equal_hard_negatives_at_beta_0(tau):
    g = torch.Generator().manual_seed(7)
    node = torch.randn(7, 4, generator=g)
    graph = torch.randn(3, 4, generator=g)
    batch = torch.tensor([0, 0, 1, 1, 1, 2, 2])
    plain = DebiasedNegatives(tau_plus=tau) if tau else UniformNegatives()
    # the published code adds its tau+ term: equal only without one
    for mode in ("paper", "hcl-code") if tau == 0 else ("paper",):
        assert torch.equal(
            jsd_local_global(node, graph, batch, weighting=plain),
            jsd_local_global(node, graph, batch, beta=0.0, tau_plus=tau,
                             reweight=mode))
    assert torch.equal(hard_infonce(graph, graph + 1, weighting=plain),
                       hard_infonce(graph, graph + 1, beta=0.0, tau_plus=tau))


def test_a_weighting_of_ones_own_runs_through_both_losses():
    """A subclass that tilts towards easy negatives (k = -beta) is used as
    given: it equals the published code's formula with the scale 1/2."""

    class EasyNegatives(UniformNegatives):
        def tilt(self, scores, excluded, scale=None):
            return -1.0

    g = torch.Generator().manual_seed(8)
    node = torch.randn(6, 3, generator=g, dtype=torch.float64)
    graph = torch.randn(3, 3, generator=g, dtype=torch.float64)
    batch = torch.tensor([0, 0, 1, 1, 2, 2])

    def easy(s, p):
        e = [math.exp(-float(s[j])) if j != p else 0.0 for j in range(len(s))]
        return [x * (len(s) - 1) / sum(e) for x in e]

    loss = JSDLocalGlobalLoss(weighting=EasyNegatives())(node, graph, batch)
    assert loss.item() == pytest.approx(float(_jsd_by_hand(
        node, graph, batch, easy, 0.0)), rel=1e-12)
    assert torch.isfinite(HardInfoNCELoss(weighting=EasyNegatives())(
        graph, graph * 2))


def test_a_weighting_passed_in_refuses_the_settings_that_would_name_one():
    with pytest.raises(InvalidValueError, match="leave beta out"):
        JSDLocalGlobalLoss(beta=2.0, weighting=UniformNegatives())
    with pytest.raises(TypeError, match="negative weighting"):
        HardInfoNCELoss(weighting="paper")


def test_the_registry_names_every_weighting_and_builds_it():
    built = {name: make_weighting(beta=0.0, tau_plus=0.0, reweight=name)
             for name in WEIGHTINGS.names}
    assert {type(w) for w in built.values()} == {
        UniformNegatives, DebiasedNegatives, HardNegatives, HCLCodeNegatives,
        SemiHardNegatives}
    assert type(make_weighting(beta=2.0, tau_plus=0.5,
                               reweight="paper")) is HardNegatives
    with pytest.raises(InvalidValueError, match=r"'uniform' .* takes no beta "
                       r"\(given 2.0\), tau_plus \(given 0.5\)"):
        make_weighting(beta=2.0, tau_plus=0.5, reweight="uniform")


def test_config_names_any_registered_weighting_and_refuses_a_dropped_setting():
    config = TrainConfig(reweight="semi-hard", beta=0.0, tau_plus=0.0)
    assert config.tag == "semi-hard"
    assert TrainConfig(objective="infonce", reweight="semi-hard",
                       beta=0.0).tag == "infonce-semi-hard"
    assert TrainConfig(beta=1.0).tag == "hard-paper"
    with pytest.raises(InvalidValueError, match="config key 'reweight': "
                       "'uniform'.*takes no beta"):
        TrainConfig(reweight="uniform")
    with pytest.raises(InvalidValueError, match="one of 'paper', 'hcl-code'"):
        TrainConfig(reweight="hard")
