r"""Comparing two cells of a grid: paired differences, equivalence, and the
pooled estimate over datasets (``docs/method.md``, "Stating the verdict").

Per dataset, the runs of one seed share the initial weights, the batches and
the outer splits, so the per-seed differences :math:`d_s` (points) of two
cells' mean accuracies are compared: their mean :math:`\bar d`, Student's
:math:`t` interval :math:`\bar d \pm t_{1-\alpha/2,\,n-1}\, s_d/\sqrt n`,
and the **equivalence bound**, the largest :math:`|d|` left inside the 90%
interval: :math:`b = \max(|\ell_{90}|, |u_{90}|)`. Two one-sided tests
(TOST, Schuirmann 1987) at level 0.05 declare the cells equivalent within
:math:`\pm m` exactly when :math:`b < m`.

Over :math:`k` datasets, the per-dataset means :math:`y_i = \bar d_i`, with
variances :math:`v_i = s_{d,i}^2 / n_i`, are pooled by a random-effects model
:math:`y_i \sim N(\mu, v_i + \tau^2)`: :math:`\tau^2` by Paule and Mandel's
estimator (truncated at 0), :math:`\hat\mu = \sum w_i y_i / \sum w_i` with
:math:`w_i = 1/(v_i + \hat\tau^2)`, and the Hartung-Knapp interval
:math:`\hat\mu \pm t_{1-\alpha/2,\,k-1}\sqrt{q}` with
:math:`q = \sum w_i (y_i - \hat\mu)^2 / \big((k-1) \sum w_i\big)`
(statsmodels' ``combine_effects``). Also :math:`I^2 = \max(0, (Q-k+1)/Q)`
with Cochran's :math:`Q`, and the prediction interval for a new dataset
(Higgins, Thompson and Spiegelhalter, 2009),
:math:`\hat\mu \pm t_{0.975,\,k-2}\sqrt{\hat\tau^2 + 1/\sum w_i}`.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats

from ..errors import InvalidValueError

#: The half-width that the intervals should reach, in points.
TARGET_HALF_WIDTH = 0.5
#: The equivalence margins tested, in points.
MARGINS = (1.0, 2.0)


def paired(cell: dict, base: dict) -> dict | None:
    """The paired difference ``cell - base`` (points) over the seeds both
    have (``{seed: result}`` each); ``None`` with fewer than 2 seeds.

    Returns ``n``, ``mean``, ``sd``, the 95% interval (``low``, ``high``,
    ``half``), the 90% interval (``low90``, ``high90``), the equivalence
    ``bound``, the paired t test's ``p_t``, the Wilcoxon signed-rank ``p``,
    the TOST p-value per margin (``tost``), and the ``seeds_needed`` for a
    95% half-width of :data:`TARGET_HALF_WIDTH`.
    """
    from statsmodels.stats.weightstats import ttost_paired

    seeds = sorted(set(cell) & set(base))
    if len(seeds) < 2:
        return None
    x = np.array([cell[s]["accuracy_mean"] for s in seeds]) * 100
    y = np.array([base[s]["accuracy_mean"] for s in seeds]) * 100
    diff = x - y
    n, mean, sd = len(diff), float(diff.mean()), float(diff.std(ddof=1))
    se = sd / math.sqrt(n)
    half = float(stats.t.ppf(0.975, n - 1) * se)
    half90 = float(stats.t.ppf(0.95, n - 1) * se)
    if sd > 0:
        p_t = float(2 * stats.t.sf(abs(mean) / se, n - 1))
        tost = {m: float(ttost_paired(x, y, -m, m)[0]) for m in MARGINS}
    else:  # every seed gives the same difference
        p_t = 1.0 if mean == 0 else 0.0
        tost = {m: 0.0 if abs(mean) < m else 1.0 for m in MARGINS}
    p = float(stats.wilcoxon(diff).pvalue) if np.any(diff != 0) else 1.0
    return {"n": n, "mean": mean, "sd": sd, "low": mean - half,
            "high": mean + half, "half": half, "low90": mean - half90,
            "high90": mean + half90,
            "bound": max(abs(mean - half90), abs(mean + half90)),
            "p_t": p_t, "p": p, "tost": tost,
            "seeds_needed": seeds_needed(sd)}


def verdict(low: float, high: float, bound: float,
            significant: bool = True) -> str:
    """The words for an interval: ``better`` or ``worse`` when the 95%
    interval [``low``, ``high``] excludes 0 (and ``significant``, the
    multiplicity-corrected test, agrees), else ``equivalent within ±m``
    for the smallest margin of :data:`MARGINS` above the equivalence
    ``bound``, else ``inconclusive``."""
    if significant and low > 0:
        return "better"
    if significant and high < 0:
        return "worse"
    for m in MARGINS:
        if bound < m:
            return f"equivalent within ±{m:g}"
    return "inconclusive"


def format_bound(bound: float) -> str:
    """The equivalence ``bound`` as text: 2 decimals, or as many more (up
    to 6) as keep it on its own side of every margin of :data:`MARGINS`, so
    that the printed figure agrees with :func:`verdict` (0.9991 prints as
    ``0.999``, never as ``1.00`` beside "equivalent within ±1")."""
    for digits in range(2, 7):
        text = f"{bound:.{digits}f}"
        if all((float(text) < m) == (bound < m) for m in MARGINS):
            break
    return text


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment of ``p_values`` (statsmodels'
    ``multipletests``), in their order."""
    from statsmodels.stats.multitest import multipletests

    if not p_values:
        return []
    return [float(p) for p in multipletests(p_values, method="holm")[1]]


def seeds_needed(sd: float) -> int:
    r"""The fewest seeds :math:`n \ge 2` whose t interval has a half-width
    of at most :data:`TARGET_HALF_WIDTH` at this standard deviation of
    differences: from the normal approximation
    :math:`n_0 = \lceil (1.96\, s / h)^2 \rceil`, which is never above the
    answer, up to the first :math:`n` that reaches it (a few steps)."""
    if not math.isfinite(sd) or sd < 0:
        raise InvalidValueError(f"sd must be a finite number >= 0, got {sd!r}.")
    n = max(2, math.ceil((stats.norm.ppf(0.975) * sd / TARGET_HALF_WIDTH)
                         ** 2))
    while stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n) > TARGET_HALF_WIDTH:
        n += 1
    return n


def pool(means, variances) -> dict | None:
    """The random-effects pooled difference of ``k >= 2`` datasets' mean
    differences ``means`` (points) with ``variances`` (their squared
    standard errors); ``None`` for fewer than 2.

    Returns ``k``, ``estimate``, the Hartung-Knapp 95% interval (``low``,
    ``high``, ``half``) and 90% interval (``low90``, ``high90``), ``tau2``,
    ``i2`` (a fraction), the prediction interval (``pi_low``, ``pi_high``;
    NaN for ``k < 3``), the equivalence ``bound`` and ``se_re``, the
    standard error :math:`1/\\sqrt{\\sum w_i}`.
    """
    from statsmodels.stats.meta_analysis import combine_effects

    y, v = np.asarray(means, float), np.asarray(variances, float)
    k = len(y)
    if k < 2:
        return None
    if np.any(v <= 0):  # a dataset whose seeds all gave one difference
        v = np.maximum(v, 1e-12)
    with warnings.catch_warnings():  # per-dataset intervals, unused here
        warnings.simplefilter("ignore")
        res = combine_effects(y, v, method_re="pm", use_t=True)
        low, high, low90, high90 = (
            float(res.summary_frame(alpha=a, use_t=True)
                  .loc["random effect wls", side])
            for a in (0.05, 0.10) for side in ("ci_low", "ci_upp"))
    estimate, tau2 = float(res.mean_effect_re), float(res.tau2)
    se_re = float(res.sd_eff_w_re)
    if k >= 3:
        spread = stats.t.ppf(0.975, k - 2) * math.sqrt(tau2 + se_re ** 2)
        pi = (estimate - spread, estimate + spread)
    else:
        pi = (math.nan, math.nan)
    return {"k": k, "estimate": estimate, "low": low, "high": high,
            "half": (high - low) / 2, "low90": low90, "high90": high90,
            "tau2": tau2, "i2": max(0.0, float(res.i2)), "pi_low": pi[0],
            "pi_high": pi[1], "bound": max(abs(low90), abs(high90)),
            "se_re": se_re}


def datasets_needed(tau2: float, variance: float,
                    most: int = 1000) -> int | None:
    r"""The fewest datasets :math:`k` whose Hartung-Knapp 95% half-width
    reaches :data:`TARGET_HALF_WIDTH` when each contributes ``variance`` (a
    dataset's squared standard error) and the datasets differ by ``tau2``:
    :math:`t_{0.975,\,k-1}\sqrt{(v + \tau^2)/k} \le h` (the expected width,
    residuals at their expectation); ``None`` beyond ``most``."""
    for k in range(2, most + 1):
        if stats.t.ppf(0.975, k - 1) * math.sqrt((variance + tau2) / k) \
                <= TARGET_HALF_WIDTH:
            return k
    return None


def seeds_for_pooled(tau2: float, sds) -> int | None:
    r"""The fewest seeds per dataset for which the pooled 95% half-width of
    these ``k`` datasets (their paired sds ``sds``) reaches
    :data:`TARGET_HALF_WIDTH`: :math:`t_{0.975,\,k-1}/\sqrt{\sum_i
    1/(s_i^2/n + \tau^2)} \le h`; ``None`` when no count does (as
    :math:`n \to \infty` the half-width falls only to
    :math:`t\,\tau/\sqrt k`)."""
    sds = np.asarray(sds, float)
    crit = stats.t.ppf(0.975, len(sds) - 1)

    def half(n):
        return crit / math.sqrt(np.sum(1 / (sds ** 2 / n + tau2)))

    if crit * math.sqrt(tau2 / len(sds)) >= TARGET_HALF_WIDTH:
        return None
    high = 2
    while half(high) > TARGET_HALF_WIDTH:
        high *= 2
    low = high // 2  # half(low) > target, unless low < 2
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if half(mid) > TARGET_HALF_WIDTH else (
            low, mid)
    return max(high, 2)


#: The public names (the API reference lists these).
__all__ = ["paired", "verdict", "holm", "pool", "seeds_needed",
           "seeds_for_pooled", "datasets_needed", "TARGET_HALF_WIDTH",
           "MARGINS"]
