"""Figures from hand-made records (axes, series, values) and the ``bench report`` suite."""

from __future__ import annotations

import numpy as np
import pytest
from records import metrics_of, write_record

from bench.cli import main
from bench.records.store import iter_records
from bench.report.aggregate import DELTA
from bench.report.bars import bar_figure
from bench.report.curves import curves_figure
from bench.report.mapped import mapped_rows
from bench.report.plotstyle import save_figure
from bench.report.query import TableRequest, build_summary
from bench.report.sweep import sweep_figure

DS = "synthetic-nyuv2"
RATIOS = ["ratio:1:9", "ratio:5:5", "ratio:9:1"]


@pytest.fixture()
def results(tmp_path):
    for seed in range(3):
        write_record(tmp_path, DS, "stl", "full", seed, metrics_of(22 + seed, 0.6, 30))
        for regime in ["onelabel", *RATIOS]:
            frac = {"onelabel": 0.33}.get(regime) or int(regime.split(":")[1]) / 10
            for method, bonus in (("sl", 0.0), ("xtc", 2.0)):
                hist = [{"epoch": e, "metrics": metrics_of(5 * e + bonus + seed, 1.0 - 0.1 * e,
                                                             40 - e)} for e in (1, 2, 3)]
                write_record(tmp_path, DS, method, regime, seed,
                             metrics_of(10 + 10 * frac + bonus + seed, 0.8 - 0.1 * frac, 36),
                             history=hist)
    return tmp_path


def summary_of(results, **kw):
    return build_summary(TableRequest(DS, results, **kw))


def test_bars_one_bar_per_row_with_error_bars(results, tmp_path):
    summary, _ = summary_of(results, regimes=["full", "onelabel"])
    fig = bar_figure(summary, "semantic/mIoU")
    ax = fig.axes[0]
    bars = {p.get_gid(): p.get_height() for p in ax.patches if p.get_gid()}
    assert set(bars) == {"full|stl", "onelabel|sl", "onelabel|xtc"}
    assert bars["onelabel|xtc"] == pytest.approx(10 + 3.3 + 2 + 1)  # mean over seeds 0,1,2
    assert [t.get_text() for t in ax.get_xticklabels()] == ["full", "one"]
    assert "mIoU" in ax.get_ylabel() and "↑" in ax.get_ylabel()
    from matplotlib.container import ErrorbarContainer
    errs = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(errs) == 3  # an error bar per row (3 seeds each)
    assert "error bars ± std" in fig.get_supxlabel()
    paths = save_figure(fig, tmp_path / "fig" / "bars")
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size for p in paths)
    dm = bar_figure(summary, DELTA).axes[0]
    assert "full|stl" not in {p.get_gid() for p in dm.patches}  # baseline's Δm is 0 by definition


def test_sweep_one_line_per_method_over_the_fraction(results):
    summary, _ = summary_of(results, regimes=RATIOS, methods=["sl", "xtc"])
    fig = sweep_figure(summary)
    seg = fig.axes[0]
    lines = {ln.get_gid(): ln for ln in seg.get_lines() if ln.get_gid()}
    assert set(lines) == {"sl", "xtc"}
    assert list(lines["sl"].get_xdata()) == [10.0, 50.0, 90.0]
    np.testing.assert_allclose(lines["xtc"].get_ydata(), [10 + 1 + 2 + 1, 10 + 5 + 2 + 1,
                                                          10 + 9 + 2 + 1])
    assert len(seg.collections) == 2  # shaded band over seeds per method
    assert "labelled for segmentation (%)" in fig.get_supxlabel()
    assert any("Δm" in ax.get_title() for ax in fig.axes)


def test_curves_per_epoch_per_method(results):
    summary, records = summary_of(results, regimes=["onelabel"])
    fig = curves_figure(summary, records, "onelabel")
    assert len(fig.axes) == 3  # one panel per task's primary metric
    lines = {ln.get_gid(): ln for ln in fig.axes[0].get_lines() if ln.get_gid()}
    assert set(lines) == {"sl", "xtc"}
    assert list(lines["sl"].get_xdata()) == [1, 2, 3]
    np.testing.assert_allclose(lines["xtc"].get_ydata(), [5 + 2 + 1, 10 + 2 + 1, 15 + 2 + 1])


@pytest.mark.slow
def test_report_suite_writes_index_linking_everything(results, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["report", "--dataset", DS, "--results", str(results), "--out", str(out),
                 "--no-pdf"]) == 0
    index = (out / "index.md").read_text()
    for name in ["table.md", "table.csv", "table.tex", "bars_semantic_miou.png",
                 "bars_dm.png", "sweep.png", "curves_onelabel.png"]:
        assert (out / name).is_file(), name
        assert name in index, name
    assert (out / "sweep.pdf").is_file()
    # no figure data beside hand-made records: the qualitative figure is skipped with a reason
    assert "Qualitative figure skipped" in index


@pytest.mark.slow
def test_report_and_figures_from_trained_runs(synthetic_root, tmp_path, capsys):
    """Real (smoke) runs render their figure data: the Fig. 4 grid and the Fig. 3 mappings."""
    results = tmp_path / "res"
    assert main(["run", "--methods", "sl,xtc", "--dataset", DS, "--regimes", "onelabel",
                 "--seeds", "0", "--profile", "smoke", "--jobs", "1", "--results", str(results),
                 "--data-root", str(synthetic_root), "--no-table"]) == 0
    out = tmp_path / "report"
    assert main(["report", "--dataset", DS, "--results", str(results), "--out", str(out),
                 "--profile", "smoke", "--images", "2"]) == 0
    index = (out / "index.md").read_text()
    assert (out / "qualitative.png").is_file() and "qualitative.png" in index
    assert (out / "mapped_xtc.png").is_file() and "mapped_xtc.png" in index
    record = next(r for r in iter_records(results) if r.method == "xtc")
    rows = mapped_rows(record)
    assert len(rows) == 6  # every ordered pair of the three tasks
    assert all(-1.0 <= cos <= 1.0 for _, _, cos in rows)
    assert main(["report", "--dataset", DS, "--results", str(results), "--profile", "smoke",
                 "--out", str(tmp_path / "r2"), "--qualitative-regime", "full"]) == 0
    assert "skipped" in (tmp_path / "r2" / "index.md").read_text()
