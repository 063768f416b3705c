"""The power study's statistics, checked against scipy and statsmodels on hand-made records."""

from __future__ import annotations

import numpy as np
import pytest
from records import metrics_of, write_record
from scipy import stats

from bench.cli import main
from bench.report.aggregate import DELTA, select_runs
from bench.report.frame import load_records
from bench.report.power import NEGATIVE, POSITIVE, VERSUS_SL, analyse, verdicts

statsmodels = pytest.importorskip("statsmodels")

DS = "nyuv2"
FULL = [(30, 0.50, 30), (31, 0.51, 29.5), (29.5, 0.49, 30.5), (30.5, 0.50, 30.2), (30.2, 0.52, 29.8)]
ONE = [(20, 0.70, 35), (21.3, 0.72, 34.5), (19.5, 0.69, 35.5), (20.5, 0.71, 35.2), (20.2, 0.70, 34.9)]
XTC = [(22, 0.68, 34), (21.5, 0.67, 34.4), (22.5, 0.69, 33.8), (21.8, 0.66, 34.1), (22.1, 0.68, 34.0)]
SHUF = [(20.1, 0.71, 35.1), (20.8, 0.70, 35.0), (19.9, 0.72, 35.3), (20.4, 0.71, 34.8),
        (20.0, 0.70, 35.2)]
SIDES = {"sl@full": FULL, "sl@onelabel": ONE, "xtc@onelabel": XTC,
         "xtc-shuffled@onelabel": SHUF}
COLUMNS = {"semantic/mIoU": (0, True), "depth/absErr": (1, False), "normal/mean": (2, False)}


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


def values(side: str, column: str) -> np.ndarray:
    rows = SIDES[side]
    if column == DELTA:
        return np.array([dm(r) for r in rows])
    i, higher = COLUMNS[column]
    return np.array([r[i] for r in rows]) * (1 if higher else -1)


def study(results, test="paired", margin=0.41):
    records = load_records(results, DS)
    runs, notes = select_runs(records.frame, profile="quick")
    out = analyse(records, runs, ["onelabel"], ["xtc"], test, margin)
    out.notes += notes
    return out


def test_every_comparison_on_every_column_against_scipy_paired(results):
    result = study(results)
    kinds = [(c.kind, str(c.a), str(c.b)) for c in result.comparisons]
    assert kinds == [(POSITIVE, "sl@full", "sl@onelabel"),
                     (NEGATIVE, "xtc@onelabel", "xtc-shuffled@onelabel"),
                     (VERSUS_SL, "xtc@onelabel", "sl@onelabel")]
    for comp in result.comparisons:
        for column in [*COLUMNS, DELTA]:
            a, b = values(str(comp.a), column), values(str(comp.b), column)
            ref = stats.ttest_rel(a, b)  # seeds 0..4 on both sides, in order
            e = result.effect(comp, column)
            assert e.delta == pytest.approx((a - b).mean())
            assert e.p == pytest.approx(ref.pvalue) and e.n_a == e.n_b == 5
            ci = ref.confidence_interval(0.95)
            assert (e.low, e.high) == pytest.approx((ci.low, ci.high))


def test_welch_on_request(results):
    result = study(results, "welch")
    for comp in result.comparisons:
        for column in [*COLUMNS, DELTA]:
            a, b = values(str(comp.a), column), values(str(comp.b), column)
            e = result.effect(comp, column)
            assert e.p == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)


def test_holm_over_the_whole_study(results):
    from statsmodels.stats.multitest import multipletests

    result = study(results)
    effects = list(result.effects.values())
    assert result.tests == len(effects) == 3 * 4
    adjusted = multipletests([e.p for e in effects], method="holm")[1]
    assert [e.p_holm for e in effects] == pytest.approx(list(adjusted))


def test_power_and_equivalence_of_each_cell(results):
    from statsmodels.stats.power import TTestPower
    from statsmodels.stats.weightstats import ttost_paired

    result = study(results, margin=0.5)
    positive = result.of_kind(POSITIVE)[0]
    for comp in result.comparisons:
        for column in [*COLUMNS, DELTA]:
            e = result.effect(comp, column)
            d = values(str(comp.a), column) - values(str(comp.b), column)
            sd = d.std(ddof=1)
            power = TTestPower().power(e.detectable / sd, nobs=5, alpha=0.05)
            assert power == pytest.approx(0.8, abs=1e-4)
            if comp.kind == POSITIVE:
                assert np.isnan(e.margin)  # the positive control sets the margins
                continue
            margin = 0.5 * abs(result.effect(positive, column).delta)
            assert e.margin == pytest.approx(margin)
            a, b = values(str(comp.a), column), values(str(comp.b), column)
            assert e.equivalence_p == pytest.approx(ttost_paired(a, b, -margin, margin)[0])


def test_pairs_are_matched_by_seed_and_unpaired_seeds_left_out(tmp_path):
    for seed in range(5):
        write_record(tmp_path, DS, "sl", "full", seed, metrics_of(*FULL[seed]))
        write_record(tmp_path, DS, "sl", "onelabel", seed, metrics_of(*ONE[seed]))
    write_record(tmp_path, DS, "sl", "full", 7, metrics_of(40, 0.1, 20))  # no partner
    result = study(tmp_path)
    e = result.effect(result.of_kind(POSITIVE)[0], "semantic/mIoU")
    assert e.n_a == e.n_b == 5
    assert e.p == pytest.approx(stats.ttest_rel([r[0] for r in FULL], [r[0] for r in ONE]).pvalue)


def test_verdicts_say_what_separates(results):
    lines = verdicts(study(results))
    assert lines[0].startswith("Positive control sl@full vs sl@onelabel: significant on every "
                               "task and on Δm")
    assert "Negative control: xtc vs xtc-shuffled on onelabel: separated, xtc is better" in lines[1]
    assert "Against SL: xtc vs sl on onelabel: separated" in lines[2]


def test_a_null_result_states_its_power_and_equivalence(tmp_path):
    for seed in range(5):
        write_record(tmp_path, DS, "sl", "full", seed, metrics_of(*FULL[seed]))
        write_record(tmp_path, DS, "sl", "onelabel", seed, metrics_of(*ONE[seed]))
        write_record(tmp_path, DS, "xtc", "onelabel", seed, metrics_of(*SHUF[seed]))
        twin = (SHUF[seed][0] + 0.01 * (-1) ** seed, SHUF[seed][1], SHUF[seed][2])
        write_record(tmp_path, DS, "xtc-shuffled", "onelabel", seed, metrics_of(*twin))
    result = study(tmp_path)
    line = next(v for v in verdicts(result) if v.startswith("Negative control"))
    assert "NOT separated" in line and "smallest difference detectable at 80 % power" in line
    assert "within ±" in line and "TOST p" in line


def test_the_oracle_says_whether_cross_task_signal_is_resolved(tmp_path):
    for seed in range(5):
        write_record(tmp_path, DS, "sl", "full", seed, metrics_of(*FULL[seed]))
        write_record(tmp_path, DS, "sl", "onelabel", seed, metrics_of(*ONE[seed]))
        write_record(tmp_path, DS, "oracle-geometry", "onelabel", seed, metrics_of(*XTC[seed]))
        write_record(tmp_path, DS, "oracle-geometry-shuffled", "onelabel", seed,
                     metrics_of(*SHUF[seed]))
    records = load_records(tmp_path, DS)
    runs, _ = select_runs(records.frame, profile="quick")
    result = analyse(records, runs, ["onelabel"], ["oracle-geometry"])
    line = next(v for v in verdicts(result) if v.startswith("Cross-task signal (oracle)"))
    assert "separated" in line and "The benchmark resolves cross-task signal." in line


def test_collapsed_runs_are_left_out_and_said(results):
    write_record(results, DS, "xtc", "onelabel", 9, metrics_of(*XTC[0]), status="collapsed")
    result = study(results)
    assert "xtc @ onelabel: 1 collapsed run(s) left out" in result.notes
    assert result.effect(result.of_kind(NEGATIVE)[0], DELTA).n_a == 5


def test_power_command_analyses_existing_records(results, capsys):
    assert main(["power", "--dataset", DS, "--methods", "xtc", "--profile", "quick",
                 "--no-run", "--results", str(results), "--out", str(results / "p.md")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "positive control: sl@full vs" in out and "Wall time" in out
    assert "paired t-test" in out and "Holm-adjusted over the study's 12 tests" in out
    text = (results / "p.md").read_text()
    assert "| negative control: xtc@onelabel vs xtc-shuffled@onelabel |" in text
    assert main(["power", "--dataset", DS, "--methods", "xtc", "--profile", "quick",
                 "--no-run", "--results", str(results), "--test", "welch",
                 "--equivalence-margin", "0.2"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Welch's t-test" in out and "± 0.2 × the positive control" in out


@pytest.mark.parametrize("value", ["0", "1.5", "x"])
def test_a_bad_margin_is_refused(results, value, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["power", "--dataset", DS, "--no-run", "--results", str(results),
              "--equivalence-margin", value])
    assert exc.value.code == 2
    assert "--equivalence-margin" in capsys.readouterr().err


def test_the_study_shows_the_collapse_probe_of_its_cross_task_runs(tmp_path, capsys):
    from test_collapse import probe_history

    for seed in range(5):
        write_record(tmp_path, DS, "sl", "full", seed, metrics_of(*FULL[seed]))
        write_record(tmp_path, DS, "sl", "onelabel", seed, metrics_of(*ONE[seed]))
        write_record(tmp_path, DS, "xtc", "onelabel", seed, metrics_of(*XTC[seed]),
                     history=probe_history(0.05, 0.01))
        write_record(tmp_path, DS, "xtc-shuffled", "onelabel", seed, metrics_of(*SHUF[seed]),
                     history=probe_history(0.0, 0.01))
    write_record(tmp_path, DS, "xtc", "onelabel", 9, metrics_of(*XTC[0]), status="collapsed",
                 history=probe_history(0.0, 0.01))  # seed 9 is not in the study
    assert main(["power", "--dataset", DS, "--methods", "xtc", "--profile", "quick",
                 "--no-run", "--results", str(tmp_path), "--out", str(tmp_path / "p.md")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Collapse probe of the study's cross-task runs" in out
    assert "xtc@onelabel: not collapsed in any of 5 seeds" in out
    assert "collapsed run(s) left out" not in out  # only the study's seeds are read
    assert "Collapse probe" in (tmp_path / "p.md").read_text()
