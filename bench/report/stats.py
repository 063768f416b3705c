"""The statistics of a comparison over seeds: effect, interval, test, power, equivalence, Holm.

For values :math:`a_1..a_n` of one side and :math:`b_1..b_m` of the other, signed so that
:math:`\\delta > 0` means *a* is better:

* **paired** (the default): the runs of one seed share their label mask and initialisation, so
  the sides are matched by seed and the differences :math:`d_i = a_i - b_i` tested with
  ``scipy.stats.ttest_rel`` (:math:`t = \\bar d / (s_d/\\sqrt n)`, n − 1 degrees of freedom);
  **Welch** (``test="welch"``): ``scipy.stats.ttest_ind(equal_var=False)`` on the two samples;
* the **95 % confidence interval** of :math:`\\delta` from the same t distribution;
* the **smallest detectable effect** at 80 % power, two-sided α = 0.05 (:func:`detectable`): the
  :math:`\\delta` at which the test rejects with probability 0.8, from the noncentral t
  distribution with the observed spread;
* **equivalence (TOST)** within a margin :math:`\\pm\\Delta`: two one-sided tests, p =
  max of their p-values; equivalent when p < 0.05;
* **Holm**'s step-down adjustment of the p-values of one study (:func:`holm`), so that the
  family of its comparisons keeps α = 0.05.

Each is checked against statsmodels on hand-made numbers (``tests/test_stats.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

ALPHA = 0.05
POWER = 0.8
TESTS = ("paired", "welch")


@dataclass
class Comparison:
    """One two-sided comparison of two samples (``δ > 0``: *a* is better)."""

    delta: float
    low: float
    high: float
    p: float
    df: float
    se: float
    n_a: int
    n_b: int
    test: str

    @property
    def testable(self) -> bool:
        return math.isfinite(self.p)


def compare(a: np.ndarray, b: np.ndarray, higher_is_better: bool, test: str = "paired",
            seeds_a: Sequence[int] | None = None, seeds_b: Sequence[int] | None = None
            ) -> Comparison:
    """The comparison of ``a`` with ``b`` by ``test``; ``paired`` matches them by seed (only
    seeds both sides have count). NaN where a side has fewer than two values."""
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}")
    sign = 1.0 if higher_is_better else -1.0
    a, b = np.asarray(a, float), np.asarray(b, float)
    if test == "paired":
        if seeds_a is None or seeds_b is None:
            raise ValueError("a paired comparison needs the seeds of both sides")
        by_seed = {int(s): v for s, v in zip(seeds_b, b, strict=True) if math.isfinite(v)}
        pairs = [(v, by_seed[int(s)]) for s, v in zip(seeds_a, a, strict=True)
                 if math.isfinite(v) and int(s) in by_seed]
        if len(pairs) < 2:
            return _untestable(sign, a, b, test, len(pairs))
        d = sign * np.array([x - y for x, y in pairs])
        n = len(d)
        se = float(np.std(d, ddof=1) / math.sqrt(n))
        mean = float(d.mean())
        if se == 0:
            p = 0.0 if mean != 0 else 1.0
            return Comparison(mean, mean, mean, p, n - 1, 0.0, n, n, test)
        result = stats.ttest_rel(sign * np.array([x for x, _ in pairs]),
                                 sign * np.array([y for _, y in pairs]))
        half = float(stats.t.ppf(0.975, n - 1) * se)
        return Comparison(mean, mean - half, mean + half, float(result.pvalue), n - 1, se, n, n,
                          test)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) < 2 or len(b) < 2:
        return _untestable(sign, a, b, test, 0)
    result = stats.ttest_ind(a, b, equal_var=False)
    ci = result.confidence_interval(0.95)
    low, high = sorted((sign * float(ci.low), sign * float(ci.high)))
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    se = float(math.sqrt(va + vb))
    df = float((va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))) if se else (
        len(a) + len(b) - 2)
    return Comparison(float(sign * (a.mean() - b.mean())), low, high, float(result.pvalue), df,
                      se, len(a), len(b), test)


def _untestable(sign: float, a: np.ndarray, b: np.ndarray, test: str, n: int) -> Comparison:
    fa, fb = a[np.isfinite(a)], b[np.isfinite(b)]
    delta = sign * (fa.mean() - fb.mean()) if len(fa) and len(fb) else float("nan")
    na, nb = (n, n) if test == "paired" else (len(fa), len(fb))
    nan = float("nan")
    return Comparison(float(delta), nan, nan, nan, nan, nan, na, nb, test)


def power_at(effect: float, se: float, df: float, alpha: float = ALPHA) -> float:
    """Power of the two-sided t-test to detect a true ``effect`` with standard error ``se``."""
    crit = stats.t.ppf(1 - alpha / 2, df)
    nc = effect / se
    value = float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))
    return value if math.isfinite(value) else 1.0  # far out in the tail: certain


def detectable(c: Comparison, power: float = POWER, alpha: float = ALPHA) -> float:
    """The smallest effect ``|δ|`` the comparison's test detects with ``power`` (two-sided
    ``alpha``), at the observed standard error; NaN when untestable."""
    if not c.testable or not math.isfinite(c.se) or c.se <= 0:
        return float("nan")
    upper = c.se
    while power_at(upper, c.se, c.df, alpha) < power:
        upper *= 2
    return float(optimize.brentq(lambda x: power_at(x, c.se, c.df, alpha) - power, 0.0, upper))


def equivalence_p(c: Comparison, margin: float) -> float:
    """TOST: the larger p-value of the one-sided tests of ``δ > −margin`` and ``δ < margin``
    (equivalence within ±``margin`` when below α); NaN when untestable."""
    if not c.testable or not math.isfinite(margin) or margin <= 0 or not c.se > 0:
        return float("nan")
    p_low = stats.t.sf((c.delta + margin) / c.se, c.df)
    p_high = stats.t.cdf((c.delta - margin) / c.se, c.df)
    return float(max(p_low, p_high))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (NaN entries stay NaN and are not counted)."""
    p = np.asarray(p_values, float)
    out = np.full_like(p, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = len(finite)
    order = finite[np.argsort(p[finite], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()
