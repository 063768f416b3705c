"""Every statistic of the power study against scipy and statsmodels, on hand-made numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from bench.report.stats import compare, detectable, equivalence_p, holm, power_at

statsmodels = pytest.importorskip("statsmodels")

A = np.array([41.2, 39.8, 43.1, 40.5, 42.0, 38.9])
B = np.array([39.0, 39.1, 40.2, 39.4, 40.8, 38.0])
SEEDS = [0, 1, 2, 3, 4, 5]


def test_paired_matches_scipy_and_matches_seeds_not_positions():
    c = compare(A, B, True, "paired", SEEDS, SEEDS)
    ref = stats.ttest_rel(A, B)
    assert c.p == pytest.approx(ref.pvalue) and c.delta == pytest.approx((A - B).mean())
    ci = ref.confidence_interval(0.95)
    assert (c.low, c.high) == pytest.approx((ci.low, ci.high))
    # sides given in another seed order, and a seed only one side has: the same test
    shuffled = compare(A[::-1], np.append(B, 50.0), True, "paired", SEEDS[::-1], [*SEEDS, 9])
    assert shuffled.p == pytest.approx(c.p) and shuffled.n_a == 6
    # lower is better: the sign flips, the p-value stays
    down = compare(A, B, False, "paired", SEEDS, SEEDS)
    assert down.delta == pytest.approx(-c.delta) and down.p == pytest.approx(c.p)


def test_welch_matches_scipy():
    c = compare(A, B[:4], True, "welch")
    ref = stats.ttest_ind(A, B[:4], equal_var=False)
    assert c.p == pytest.approx(ref.pvalue)
    ci = ref.confidence_interval(0.95)
    assert (c.low, c.high) == pytest.approx((ci.low, ci.high))


def test_a_single_pair_is_untestable():
    c = compare(A[:1], B[:1], True, "paired", [0], [0])
    assert math.isnan(c.p) and math.isnan(detectable(c))


def test_detectable_effect_matches_statsmodels_power():
    from statsmodels.stats.power import TTestPower

    c = compare(A, B, True, "paired", SEEDS, SEEDS)
    mde = detectable(c)
    sd = float(np.std(A - B, ddof=1))
    effect_size = TTestPower().solve_power(nobs=6, alpha=0.05, power=0.8,
                                           alternative="two-sided")
    assert mde == pytest.approx(effect_size * sd, rel=1e-4)
    assert power_at(mde, c.se, c.df) == pytest.approx(0.8, abs=1e-6)


def test_equivalence_matches_statsmodels_tost():
    from statsmodels.stats.weightstats import ttost_paired

    c = compare(A, B, True, "paired", SEEDS, SEEDS)
    for margin in (1.0, 2.0, 4.0):
        p, _, _ = ttost_paired(A, B, -margin, margin)
        assert equivalence_p(c, margin) == pytest.approx(p)


def test_holm_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests

    p = [0.01, 0.04, 0.03, 0.2, 0.005, 0.5]
    assert holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]))
    assert math.isnan(holm([0.01, float("nan"), 0.04])[1])
    assert holm([0.01, float("nan"), 0.04])[2] == pytest.approx(
        multipletests([0.01, 0.04], method="holm")[1][1])
