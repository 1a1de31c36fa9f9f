"""Paired comparisons, equivalence and random-effects pooling
(hngraph.runs.comparison), each against a small example worked by hand."""
import math

import numpy as np
import pytest
from scipy import stats

from hngraph.errors import InvalidValueError
from hngraph.runs.comparison import (
    datasets_needed,
    format_bound,
    holm,
    meta_regression,
    paired,
    pool,
    pooled_verdict,
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


def test_pool_modified_interval_never_narrower_than_fixed_by_hand():
    # y = 0, 0.5, 1 with variances 1: Q = 0.5 < k - 1, so tau^2 = 0 and
    # q = 0.5 / 2 = 0.25. Plain Hartung-Knapp would scale se = 1 / sqrt(3)
    # by sqrt(0.25), half of it; the modified interval keeps it whole.
    p = pool([0.0, 0.5, 1.0], [1.0, 1.0, 1.0])
    se = 1 / math.sqrt(3)
    assert p["tau2"] == 0 and p["q"] == pytest.approx(0.25)
    assert p["half"] == pytest.approx(4.302653 * se, abs=1e-5)
    assert p["high90"] - p["estimate"] == pytest.approx(2.919986 * se,
                                                        abs=1e-5)
    # never narrower than the fixed effect's normal interval
    fixed = pool([0.0, 0.5, 1.0], [1.0, 1.0, 1.0], method="fixed")
    assert fixed["half"] == pytest.approx(1.959964 * se, abs=1e-5)
    assert p["half"] > fixed["half"]


def test_pool_variants_by_hand():
    # y = 0, 4 with variances 1: DerSimonian-Laird's tau^2 is
    # (Q - (k - 1)) / (sum w - sum w^2 / sum w) = (8 - 1) / (2 - 1) = 7;
    # a fixed effect ignores it: mu = 2, se = 1 / sqrt(2), z interval.
    dl = pool([0.0, 4.0], [1.0, 1.0], method="dl")
    assert dl["tau2"] == pytest.approx(7.0)
    fixed = pool([0.0, 4.0], [1.0, 1.0], method="fixed")
    assert fixed["tau2"] == 0 and fixed["estimate"] == pytest.approx(2.0)
    assert fixed["half"] == pytest.approx(1.959964 / math.sqrt(2), abs=1e-5)
    assert math.isnan(fixed["pi_low"])
    with pytest.raises(InvalidValueError, match="method must be one of"):
        pool([0.0, 4.0], [1.0, 1.0], method="reml")


def test_pooled_verdict_needs_five_datasets():
    few = pool([0.0, 0.1, 0.2, 0.1], [0.01] * 4)
    assert few["bound"] < 1  # it would be "equivalent within ±1" ...
    assert pooled_verdict(few) == "too few datasets for a pooled verdict"
    five = pool([0.0, 0.1, 0.2, 0.1, 0.0], [0.01] * 5)
    assert pooled_verdict(five) == "equivalent within ±1"


#: metafor's BCG vaccine trials (dat.bcg; Colditz et al., JAMA 1994):
#: vaccinated TB cases, vaccinated without TB, control cases, controls
#: without TB, and the absolute latitude of the trial.
BCG = [(4, 119, 11, 128, 44), (6, 300, 29, 274, 55), (3, 228, 11, 209, 42),
       (62, 13536, 248, 12619, 52), (33, 5036, 47, 5761, 13),
       (180, 1361, 372, 1079, 44), (8, 2537, 10, 619, 19),
       (505, 87886, 499, 87892, 13), (29, 7470, 45, 7232, 27),
       (17, 1699, 65, 1600, 42), (186, 50448, 141, 27197, 18),
       (5, 2493, 3, 2338, 33), (27, 16886, 29, 17825, 33)]


def test_meta_regression_reproduces_metafor_bcg_example():
    # metafor's documented fit, rma(yi, vi, mods = ~ ablat, data = dat,
    # test = "knha") on the log risk ratios: tau^2 = 0.0764 (REML), the
    # slope -0.0291 with se 0.0082, t = -3.5485 (df 11), p = 0.0046, 95%
    # interval [-0.0472, -0.0111]; R^2 = 75.63% against the intercept-only
    # model's tau^2 of 0.3132. Its q is 1.30 > 1, so the floor is inactive.
    a, b, c, d, lat = (np.array(col, float) for col in zip(*BCG, strict=True))
    y = np.log(a / (a + b)) - np.log(c / (c + d))
    v = 1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)
    m = meta_regression(y, v, lat)
    assert m["k"] == 13
    assert m["tau2"] == pytest.approx(0.0764, abs=1e-4)
    assert m["tau2_null"] == pytest.approx(0.3132, abs=1e-4)
    assert m["intercept"] == pytest.approx(0.2515, abs=1e-4)
    assert m["slope"] == pytest.approx(-0.0291, abs=1e-4)
    assert m["se"] == pytest.approx(0.0082, abs=1e-4)
    assert (m["low"], m["high"]) == pytest.approx((-0.0472, -0.0111),
                                                  abs=1e-4)
    assert m["p"] == pytest.approx(0.0046, abs=1e-4)
    assert m["r2"] == pytest.approx(0.7563, abs=1e-3)


def test_meta_regression_floor_and_degenerate_input():
    # points on the line y = x with variances 1: tau^2 = 0, residuals 0,
    # so q = 0 and the floor keeps the se of the weights alone: with
    # x = -1, 0, 1 that is sqrt(1 / sum x^2) = sqrt(1/2).
    m = meta_regression([-1.0, 0.0, 1.0], [1.0, 1.0, 1.0], [-1.0, 0.0, 1.0])
    assert m["slope"] == pytest.approx(1.0) and m["q"] == pytest.approx(0)
    assert m["se"] == pytest.approx(math.sqrt(0.5))
    assert meta_regression([1.0, 2.0], [1.0, 1.0], [1.0, 2.0]) is None
    assert meta_regression([1.0, 2.0, 3.0], [1.0] * 3, [5.0] * 3) is None
