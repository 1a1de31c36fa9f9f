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
estimator (truncated at 0; statsmodels' ``combine_effects``),
:math:`\hat\mu = \sum w_i y_i / \sum w_i` with :math:`w_i = 1/(v_i +
\hat\tau^2)`, and the modified Knapp-Hartung interval
:math:`\hat\mu \pm t_{1-\alpha/2,\,k-1}\sqrt{\max(1, q)/\sum w_i}` with
:math:`q = \sum w_i (y_i - \hat\mu)^2 / (k-1)`, which is never narrower than
the interval that treats the datasets' own variances as the whole story
(IntHout et al., 2014). A pooled verdict needs
:data:`MIN_POOLED_DATASETS` datasets. Also :math:`I^2 = \max(0, (Q-k+1)/Q)`
with Cochran's :math:`Q`, the prediction interval for a new dataset
(Higgins, Thompson and Spiegelhalter, 2009),
:math:`\hat\mu \pm t_{0.975,\,k-2}\sqrt{\hat\tau^2 + 1/\sum w_i}`, and the
meta-regression of the differences on one moderator
(:func:`meta_regression`).
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


def paired(cell: dict, base: dict, *, key: str = "accuracy_mean"
           ) -> dict | None:
    """The paired difference ``cell - base`` (points) of the results' ``key``
    over the seeds both have (``{seed: result}`` each); ``None`` with fewer
    than 2 seeds.

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
    x = np.array([cell[s][key] for s in seeds]) * 100
    y = np.array([base[s][key] for s in seeds]) * 100
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
            *, significant: bool = True) -> str:
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


#: The fewest finished datasets for a pooled verdict: with fewer, the
#: between-dataset variance is too poorly known for the pooled interval to
#: carry one, and the pooled row is shown without it.
MIN_POOLED_DATASETS = 5

#: The ways :func:`pool` can weigh datasets: random effects with Paule and
#: Mandel's or DerSimonian and Laird's tau², or a fixed effect (tau² = 0,
#: normal interval).
POOL_METHODS = ("pm", "dl", "fixed")


def cell_summary(runs: dict, *, key: str = "accuracy_mean") -> dict:
    """The seeds' ``n``, mean and std (``None`` for one seed) of ``key``
    over ``runs`` (``{seed: result}``), in %."""
    accs = np.array([r[key] for r in runs.values()]) * 100
    return {"n": len(accs), "mean": float(accs.mean()),
            "std": float(accs.std(ddof=1)) if len(accs) > 1 else None}


def sampling_variance(c: dict) -> float:
    r"""The squared standard error :math:`s^2/n` of a paired comparison's
    mean difference (:func:`paired`'s ``sd`` and ``n``), its weight's
    inverse when datasets are pooled."""
    return c["sd"] ** 2 / c["n"]


def pool_comparisons(comparisons: list[dict], *,
                     method: str = "pm") -> dict | None:
    """:func:`pool` of paired comparisons (:func:`paired`), one per
    dataset."""
    return pool([c["mean"] for c in comparisons],
                [sampling_variance(c) for c in comparisons], method=method)


def pool(means, variances, *, method: str = "pm") -> dict | None:
    r"""The pooled difference of ``k >= 2`` datasets' mean differences
    ``means`` (points) with ``variances`` (their squared standard errors);
    ``None`` for fewer than 2.

    ``method`` (one of :data:`POOL_METHODS`) sets :math:`\hat\tau^2`. The
    random-effects interval is the modified Knapp-Hartung one (IntHout,
    Ioannidis and Borm, BMC Med. Res. Methodol. 2014; Röver, Knapp and
    Friede, 2015): :math:`\hat\mu \pm t_{1-\alpha/2,\,k-1}\,
    \sqrt{\max(1, q)/\sum w_i}`, never narrower than the interval that
    ignores the scatter of the datasets. The fixed effect's is
    :math:`\hat\mu \pm z_{1-\alpha/2}/\sqrt{\sum_i 1/v_i}`.

    Returns ``k``, ``estimate``, the 95% interval (``low``, ``high``,
    ``half``) and 90% interval (``low90``, ``high90``), ``tau2``, ``q``,
    ``i2`` (a fraction), the prediction interval (``pi_low``, ``pi_high``;
    NaN for ``k < 3`` or a fixed effect), the equivalence ``bound`` and
    ``se_re``, the standard error :math:`1/\sqrt{\sum w_i}`.
    """
    from statsmodels.stats.meta_analysis import combine_effects

    if method not in POOL_METHODS:
        raise InvalidValueError(f"method must be one of {POOL_METHODS}, got "
                                f"{method!r}.")
    y, v = np.asarray(means, float), np.asarray(variances, float)
    k = len(y)
    if k < 2:
        return None
    if np.any(v <= 0):  # a dataset whose seeds all gave one difference
        v = np.maximum(v, 1e-12)
    with warnings.catch_warnings():  # per-dataset intervals, unused here
        warnings.simplefilter("ignore")
        res = combine_effects(y, v, method_re="dl" if method == "dl"
                              else "pm")
    tau2 = 0.0 if method == "fixed" else max(0.0, float(res.tau2))
    w = 1 / (v + tau2)
    estimate = float(np.sum(w * y) / np.sum(w))
    se_re = float(1 / math.sqrt(np.sum(w)))
    q = float(np.sum(w * (y - estimate) ** 2) / (k - 1))
    if method == "fixed":
        def half(a):
            return float(stats.norm.ppf(1 - a / 2) * se_re)
    else:
        def half(a):
            return float(stats.t.ppf(1 - a / 2, k - 1) * se_re
                         * math.sqrt(max(1.0, q)))
    h95, h90 = half(0.05), half(0.10)
    if k >= 3 and method != "fixed":
        spread = stats.t.ppf(0.975, k - 2) * math.sqrt(tau2 + se_re ** 2)
        pi = (estimate - spread, estimate + spread)
    else:
        pi = (math.nan, math.nan)
    return {"k": k, "estimate": estimate, "low": estimate - h95,
            "high": estimate + h95, "half": h95, "low90": estimate - h90,
            "high90": estimate + h90, "tau2": tau2, "q": q,
            "i2": max(0.0, float(res.i2)), "pi_low": pi[0],
            "pi_high": pi[1], "bound": max(abs(estimate - h90),
                                           abs(estimate + h90)),
            "se_re": se_re}


def pooled_verdict(p: dict) -> str:
    """The words for a pooled comparison ``p`` (:func:`pool`): those of
    :func:`verdict`, or "too few datasets for a pooled verdict" below
    :data:`MIN_POOLED_DATASETS`."""
    if p["k"] < MIN_POOLED_DATASETS:
        return "too few datasets for a pooled verdict"
    return verdict(p["low"], p["high"], p["bound"])


def meta_regression(means, variances, moderator) -> dict | None:
    r"""A random-effects meta-regression of ``k >= 3`` datasets' mean
    differences ``means`` (variances ``variances``) on one ``moderator``:
    :math:`y_i \sim N(b_0 + b_1 x_i,\ v_i + \tau^2)`; ``None`` for fewer
    than 3 datasets or a constant moderator.

    :math:`\tau^2` by restricted maximum likelihood (PyMARE's
    ``VarianceBasedLikelihoodEstimator``), the coefficients by weighted
    least squares with :math:`w_i = 1/(v_i + \hat\tau^2)`, and the slope's
    interval by the modified Knapp-Hartung method,
    :math:`b_1 \pm t_{1-\alpha/2,\,k-2}\sqrt{\max(1, q)}\,
    \mathrm{se}(b_1)` with :math:`q = \sum w_i e_i^2/(k-2)` (Knapp and
    Hartung, Stat. Med. 2003; the floor as in :func:`pool`).

    Returns ``k``, ``intercept``, ``slope``, its ``se`` (adjusted), 95%
    interval (``low``, ``high``), ``p``, ``q``, the residual ``tau2``, the
    ``tau2_null`` of the model without the moderator (same estimator), and
    ``r2``, the share of it the moderator explains,
    :math:`\max(0, 1 - \hat\tau^2/\hat\tau^2_0)` (1 when both are 0),
    and ``cov``, the coefficients' covariance with the same adjustment (for
    the fitted line's band).
    """
    from pymare import Dataset
    from pymare.estimators import VarianceBasedLikelihoodEstimator

    y, v = np.asarray(means, float), np.asarray(variances, float)
    x = np.asarray(moderator, float)
    k = len(y)
    if k < 3 or np.ptp(x) == 0:
        return None
    v = np.maximum(v, 1e-12)

    def reml_tau2(X):
        data = Dataset(y=y, v=v, X=X, add_intercept=False)
        est = VarianceBasedLikelihoodEstimator(method="REML")
        return max(0.0, float(np.ravel(est.fit_dataset(data)
                                       .summary().tau2)[0]))

    design = np.column_stack([np.ones(k), x])
    tau2 = reml_tau2(design)
    tau2_null = reml_tau2(np.ones((k, 1)))
    w = 1 / (v + tau2)
    cov = np.linalg.inv(design.T @ (w[:, None] * design))
    b = cov @ design.T @ (w * y)
    q = float(np.sum(w * (y - design @ b) ** 2) / (k - 2))
    se = float(math.sqrt(cov[1, 1] * max(1.0, q)))
    crit = float(stats.t.ppf(0.975, k - 2))
    slope = float(b[1])
    return {"k": k, "intercept": float(b[0]), "slope": slope, "se": se,
            "low": slope - crit * se, "high": slope + crit * se,
            "p": float(2 * stats.t.sf(abs(slope) / se, k - 2)), "q": q,
            "tau2": tau2, "tau2_null": tau2_null,
            "r2": 1.0 if tau2_null == 0 else max(0.0, 1 - tau2 / tau2_null),
            "cov": (cov * max(1.0, q)).tolist()}


def datasets_needed(tau2: float, variance: float,
                    *, most: int = 1000) -> int | None:
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
__all__ = ["paired", "verdict", "holm", "pool", "pool_comparisons",
           "sampling_variance", "cell_summary", "pooled_verdict",
           "meta_regression", "seeds_needed", "seeds_for_pooled",
           "datasets_needed", "TARGET_HALF_WIDTH", "MARGINS",
           "MIN_POOLED_DATASETS", "POOL_METHODS"]
