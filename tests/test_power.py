"""The power study's statistics, checked against scipy on hand-made records."""

from __future__ import annotations

import numpy as np
import pytest
from records import metrics_of, write_record
from scipy import stats

from bench.cli import main
from bench.report.aggregate import DELTA, select_runs
from bench.report.frame import load_records
from bench.report.power import NEGATIVE, POSITIVE, VERSUS_SL, analyse, verdicts, welch

DS = "nyuv2"
FULL = [(30, 0.50, 30), (31, 0.51, 29.5), (29.5, 0.49, 30.5), (30.5, 0.50, 30.2), (30.2, 0.52, 29.8)]
ONE = [(20, 0.70, 35), (21, 0.72, 34.5), (19.5, 0.69, 35.5), (20.5, 0.71, 35.2), (20.2, 0.70, 34.9)]
XTC = [(22, 0.68, 34), (21.5, 0.67, 34.4), (22.5, 0.69, 33.8), (21.8, 0.66, 34.1), (22.1, 0.68, 34.0)]
SHUF = [(20.1, 0.71, 35.1), (20.8, 0.70, 35.0), (19.9, 0.72, 35.3), (20.4, 0.71, 34.8),
        (20.0, 0.70, 35.2)]


@pytest.fixture()
def results(tmp_path):
    for seed in range(5):
        write_record(tmp_path, DS, "sl", "full", seed, metrics_of(*FULL[seed]))
        write_record(tmp_path, DS, "sl", "onelabel", seed, metrics_of(*ONE[seed]))
        write_record(tmp_path, DS, "xtc", "onelabel", seed, metrics_of(*XTC[seed]))
        write_record(tmp_path, DS, "xtc-shuffled", "onelabel", seed, metrics_of(*SHUF[seed]))
    return tmp_path


BASE = np.mean(FULL, axis=0)


def dm(row) -> float:
    """Δm (%) of one run against the mean of SL with full labels."""
    return float(np.mean([(row[0] - BASE[0]) / BASE[0], -(row[1] - BASE[1]) / BASE[1],
                          -(row[2] - BASE[2]) / BASE[2]]) * 100)


def study(results):
    records = load_records(results, DS)
    runs, _ = select_runs(records.frame, profile="quick")
    return analyse(records, runs, ["onelabel"], ["xtc"])


def test_welch_matches_scipy():
    a, b = np.array([1.0, 2.0, 3.5, 2.2]), np.array([0.5, 1.1, 0.7])
    delta, low, high, p = welch(a, b, higher_is_better=True)
    ref = stats.ttest_ind(a, b, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert delta == pytest.approx(a.mean() - b.mean())
    assert (low, high) == pytest.approx((ci.low, ci.high)) and p == pytest.approx(ref.pvalue)
    # lower is better: the sign flips, the interval too
    d2, l2, h2, p2 = welch(a, b, higher_is_better=False)
    assert d2 == pytest.approx(-delta) and (l2, h2) == pytest.approx((-ci.high, -ci.low))
    assert p2 == pytest.approx(p)


def test_every_comparison_on_every_column_against_scipy(results):
    result = study(results)
    kinds = [(c.kind, str(c.a), str(c.b)) for c in result.comparisons]
    assert kinds == [(POSITIVE, "sl@full", "sl@onelabel"),
                     (NEGATIVE, "xtc@onelabel", "xtc-shuffled@onelabel"),
                     (VERSUS_SL, "xtc@onelabel", "sl@onelabel")]
    columns = {"semantic/mIoU": (0, True), "depth/absErr": (1, False), "normal/mean": (2, False)}
    sides = {"sl@full": FULL, "sl@onelabel": ONE, "xtc@onelabel": XTC,
             "xtc-shuffled@onelabel": SHUF}
    for comp in result.comparisons:
        for column, (i, higher) in columns.items():
            a = np.array([r[i] for r in sides[str(comp.a)]])
            b = np.array([r[i] for r in sides[str(comp.b)]])
            ref = stats.ttest_ind(a, b, equal_var=False)
            e = result.effect(comp, column)
            sign = 1 if higher else -1
            assert e.delta == pytest.approx(sign * (a.mean() - b.mean()))
            assert e.p == pytest.approx(ref.pvalue) and e.n_a == e.n_b == 5
        # Δm of every run against the mean of SL with full labels
        a = np.array([dm(r) for r in sides[str(comp.a)]])
        b = np.array([dm(r) for r in sides[str(comp.b)]])
        e = result.effect(comp, DELTA)
        assert e.delta == pytest.approx(a.mean() - b.mean())
        assert e.p == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)


def test_verdicts_say_what_separates(results):
    lines = verdicts(study(results))
    assert "Positive control sl@full vs sl@onelabel: significant on every task" in lines[0]
    assert "xtc is separated from xtc-shuffled on onelabel" in lines[1]


def test_power_command_analyses_existing_records(results, capsys):
    assert main(["power", "--dataset", DS, "--methods", "xtc", "--profile", "quick",
                 "--no-run", "--results", str(results), "--out", str(results / "p.md")]) == 0
    out = capsys.readouterr().out
    assert "positive control: sl@full vs sl@onelabel" in out and "Wall time" in out
    assert "| negative control: xtc@onelabel vs xtc-shuffled@onelabel |" in (
        results / "p.md").read_text()
