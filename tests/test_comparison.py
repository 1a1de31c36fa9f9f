"""Paired comparisons, equivalence and random-effects pooling
(hngraph.runs.comparison), each against a small example worked by hand."""
import math

import pytest
from scipy import stats

from hngraph.runs.comparison import (
    datasets_needed,
    format_bound,
    holm,
    paired,
    pool,
    seeds_for_pooled,
    seeds_needed,
    verdict,
)


def _runs(accs):
    return {s: {"accuracy_mean": a} for s, a in enumerate(accs)}


def test_paired_interval_and_equivalence_by_hand():
    base = _runs([0.80, 0.80, 0.80, 0.80])
    cell = _runs([0.81, 0.82, 0.83, 0.84])  # differences 1, 2, 3, 4 points
    c = paired(cell, base)
    # mean 2.5, sample sd sqrt(5/3), se sqrt(5/3) / 2; t(0.975, 3) =
    # 3.182446, t(0.95, 3) = 2.353363
    se = (5 / 3) ** 0.5 / 2
    assert c["mean"] == pytest.approx(2.5) and c["n"] == 4
    assert (c["low"], c["high"]) == pytest.approx(
        (2.5 - 3.182446 * se, 2.5 + 3.182446 * se), abs=1e-5)
    assert (c["low90"], c["high90"]) == pytest.approx(
        (2.5 - 2.353363 * se, 2.5 + 2.353363 * se), abs=1e-5)
    assert c["bound"] == pytest.approx(2.5 + 2.353363 * se, abs=1e-5)
    # paired t: t = 2.5 / se = 3.8730, two-sided p = 2 * P(T_3 > 3.8730)
    assert c["p_t"] == pytest.approx(0.030466, abs=1e-5)
    # Wilcoxon signed-rank, 4 positive differences: exact p = 2 / 2^4
    assert c["p"] == pytest.approx(0.125)
    # TOST at margin m: the larger of the one-sided p-values,
    # P(T_3 > (2.5 + m) / se) and P(T_3 < (2.5 - m) / se)
    for m in (1.0, 2.0):
        by_hand = max(stats.t.sf((2.5 + m) / se, 3),
                      stats.t.cdf((2.5 - m) / se, 3))
        assert c["tost"][m] == pytest.approx(by_hand, abs=1e-6)
    assert paired(_runs([0.9]), _runs([0.8])) is None  # one seed


def test_tost_agrees_with_the_equivalence_bound():
    """Equivalent within ±m at level 0.05 exactly when the bound is below m
    (the 90% interval inside (-m, m))."""
    base = _runs([0.80] * 6)
    for diffs in ([0.2, -0.3, 0.1, 0.4, -0.1, 0.0],
                  [1.5, 0.5, 1.0, 2.0, 0.8, 1.2],
                  [3.0, -2.0, 1.0, 0.0, 2.5, -1.5]):
        c = paired(_runs([0.80 + d / 100 for d in diffs]), base)
        for m, p in c["tost"].items():
            assert (p < 0.05) == (c["bound"] < m), (diffs, m)


def test_verdict_words():
    assert verdict(0.1, 1.0, 0.9) == "better"
    assert verdict(-1.0, -0.1, 0.9) == "worse"
    # a significant interval whose corrected test is not: equivalence next
    assert verdict(0.1, 1.0, 0.9, significant=False) == "equivalent within ±1"
    assert verdict(-0.5, 1.5, 1.4) == "equivalent within ±2"
    assert verdict(-2.5, 1.5, 2.2) == "inconclusive"


def test_the_printed_bound_stays_on_its_side_of_each_margin():
    assert format_bound(0.444) == "0.44"
    assert format_bound(0.9991) == "0.999"  # not "1.00": it is below 1
    assert format_bound(1.996) == "1.996"  # not "2.00": it is below 2
    assert format_bound(1.004) == "1.00"  # at or above 1 reads as such
    assert format_bound(0.99999) == "0.99999"
    for b in (0.444, 0.9991, 1.004, 1.996, 0.99999, 2.0):
        for m in (1.0, 2.0):
            assert (float(format_bound(b)) < m) == (b < m), (b, m)


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 -> 3 * 0.01, 2 * 0.03, max(0.06, 1 * 0.04)
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([]) == []


def test_pool_without_heterogeneity_by_hand():
    # y = 0, 1, 2 with variances 1: Q = 2 = k - 1, so tau^2 = 0; mu = 1,
    # se = 1 / sqrt(3); Hartung-Knapp q = 2 / (2 * 3), the same se here.
    p = pool([0.0, 1.0, 2.0], [1.0, 1.0, 1.0])
    se = 1 / math.sqrt(3)
    assert p["k"] == 3 and p["tau2"] == 0 and p["i2"] == 0
    assert p["estimate"] == pytest.approx(1.0)
    assert p["se_re"] == pytest.approx(se)
    assert (p["low"], p["high"]) == pytest.approx(
        (1 - 4.302653 * se, 1 + 4.302653 * se), abs=1e-5)  # t(0.975, 2)
    assert p["bound"] == pytest.approx(1 + 2.919986 * se, abs=1e-5)
    # prediction: t(0.975, 1) * sqrt(tau^2 + se^2)
    assert (p["pi_low"], p["pi_high"]) == pytest.approx(
        (1 - 12.706205 * se, 1 + 12.706205 * se), abs=1e-4)


def test_pool_with_heterogeneity_by_hand():
    # y = 0, 4 with variances 1: Q = 8; Paule-Mandel solves
    # 8 / (1 + tau^2) = k - 1 = 1, so tau^2 = 7 (DerSimonian-Laird agrees:
    # (Q - 1) / (2 - 1)); I^2 = 7 / 8; mu = 2; weights 1/8 each, se = 2;
    # Hartung-Knapp q = (2 * 4 / 8) / (1 * 2 / 8) = 4.
    p = pool([0.0, 4.0], [1.0, 1.0])
    assert p["tau2"] == pytest.approx(7.0, abs=1e-3)
    assert p["i2"] == pytest.approx(0.875)
    assert p["estimate"] == pytest.approx(2.0)
    assert p["half"] == pytest.approx(12.706205 * 2, rel=1e-4)
    assert math.isnan(p["pi_low"])  # k = 2: no prediction interval
    assert pool([1.0], [1.0]) is None


def test_seeds_and_datasets_for_the_target_by_hand():
    # 4 datasets of sd 1, tau^2 0: t(0.975, 3) / sqrt(4 n) <= 0.5 from
    # n = 11 (3.182446 / (2 sqrt(10)) = 0.503, / (2 sqrt(11)) = 0.480)
    assert seeds_for_pooled(0.0, [1.0] * 4) == 11
    # tau^2 so large that no seed count reaches it: t * tau / sqrt(k) > 0.5
    assert seeds_for_pooled(1.0, [1.0] * 4) is None
    # 2 datasets of sd 2, tau^2 0: 12.706205 sqrt(4 / (2 n)) <= 0.5 from
    # n = 2 (25.41241)^2 = 1291.6, so 1292; nothing caps the count
    assert seeds_for_pooled(0.0, [2.0, 2.0]) == 1292
    # v + tau^2 = 0.5: k = 10 gives 2.262157 * sqrt(0.05) = 0.506, k = 11
    # gives 2.228139 * sqrt(0.5 / 11) = 0.475
    assert datasets_needed(0.25, 0.25) == 11


def test_seeds_needed_by_hand_and_at_once():
    # sd 1: t(0.975, 17) / sqrt(18) = 0.497 <= 0.5 < t(0.975, 16) / sqrt(17)
    assert seeds_needed(1.0) == 18
    assert seeds_needed(0.0) == 2
    # a spread 100 times larger (a file edited by hand) answers at once:
    # about (1.96 * 100 / 0.5)^2 = 153,664 seeds
    assert 153_000 < seeds_needed(100.0) < 154_500
    with pytest.raises(ValueError, match="finite"):
        seeds_needed(float("nan"))
