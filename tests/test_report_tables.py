"""Tables from hand-made records: every number, Δm sign, CI vs scipy, ranks, formats, LaTeX."""

from __future__ import annotations

import io
import math
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from records import metrics_of, write_record
from scipy import stats

from bench.cli import main
from bench.report.latex import compile_latex, standalone_document
from bench.report.paper import CITATION, JTR_CITATION, JTR_CSV, PAPER_CSV

DS = "synthetic-nyuv2"
# (regime, method) → per seed (mIoU ↑, depth absErr ↓, normal mean ↓)
GRID = {
    ("full", "stl"): [(20, 0.60, 30), (22, 0.62, 31), (24, 0.64, 32)],
    ("full", "sl"): [(21, 0.58, 31), (23, 0.60, 31.5), (25, 0.62, 32)],
    ("onelabel", "sl"): [(15, 0.70, 35), (16, 0.72, 36), (17, 0.74, 37)],
    ("onelabel", "ssl"): [(16, 0.72, 35.5), (17, 0.73, 36), (18, 0.74, 36.5)],
    ("onelabel", "xtc"): [(18, 0.66, 33), (19, 0.68, 34), (20, 0.70, 35)],
}
COLS = ["semantic/mIoU", "depth/absErr", "normal/mean"]


@pytest.fixture()
def results(tmp_path):
    for (regime, method), seeds in GRID.items():
        for seed, values in enumerate(seeds):
            write_record(tmp_path, DS, method, regime, seed, metrics_of(*values))
    return tmp_path


def means(key):
    return np.array(GRID[key], dtype=float).mean(0)


def expected_dm(key, base=("full", "stl")):
    m, b = means(key), means(base)
    return 100 / 3 * ((m[0] - b[0]) / b[0] - (m[1] - b[1]) / b[1] - (m[2] - b[2]) / b[2])


def table_csv(results, capsys, *extra, dataset=DS):
    capsys.readouterr()
    assert main(["table", "--dataset", dataset, "--results", str(results), "--format", "csv",
                 *extra]) == 0
    text = capsys.readouterr().out
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    return pd.read_csv(io.StringIO(body)).set_index(["regime", "method"]), text


def test_every_number_mean_std_n_and_delta_m(results, capsys):
    frame, text = table_csv(results, capsys)
    assert list(frame.index) == [("full", "stl"), ("full", "sl"), ("onelabel", "sl"),
                                 ("onelabel", "ssl"), ("onelabel", "xtc")]
    for key, seeds in GRID.items():
        values = np.array(seeds, dtype=float)
        for j, col in enumerate(COLS):
            assert frame.loc[key, f"{col} mean"] == pytest.approx(values[:, j].mean())
            assert frame.loc[key, f"{col} std"] == pytest.approx(values[:, j].std(ddof=1))
            assert frame.loc[key, f"{col} n"] == 3
        assert frame.loc[key, "Δm mean"] == pytest.approx(expected_dm(key), abs=1e-9)
    assert frame.loc[("full", "stl"), "Δm mean"] == pytest.approx(0.0, abs=1e-12)
    # lower-is-better metrics: xtc's lower depth/normal errors than SL at one label count as gain
    assert frame.loc[("onelabel", "xtc"), "Δm mean"] > frame.loc[("onelabel", "sl"), "Δm mean"]
    assert "Δm baseline: stl" in text and "used: stl@full" in text
    assert "depth: aErr (lower is better)" in text


def test_delta_m_sign_convention_for_lower_is_better(tmp_path, capsys):
    """Only the depth error drops by 10 % vs the baseline: Δm = +10/3 %, not −10/3 %."""
    write_record(tmp_path, DS, "stl", "full", 0, metrics_of(20, 1.0, 30))
    write_record(tmp_path, DS, "sl", "full", 0, metrics_of(20, 0.9, 30))
    frame, _ = table_csv(tmp_path, capsys)
    assert frame.loc[("full", "sl"), "Δm mean"] == pytest.approx(10 / 3)
    assert math.isnan(frame.loc[("full", "sl"), "Δm std"])  # one seed: no spread


def test_confidence_interval_matches_scipy(results, capsys):
    frame, text = table_csv(results, capsys, "--interval", "ci")
    for key, seeds in GRID.items():
        values = np.array(seeds, dtype=float)[:, 0]
        low, high = stats.t.interval(0.95, len(values) - 1, loc=values.mean(),
                                     scale=stats.sem(values))
        assert frame.loc[key, "semantic/mIoU ci95"] == pytest.approx((high - low) / 2)
    assert "95 % t confidence interval" in text


def test_explicit_baseline_and_regime_selection(results, capsys):
    frame, text = table_csv(results, capsys, "--baseline", "sl@onelabel", "--regimes", "onelabel")
    assert set(frame.index.get_level_values(0)) == {"onelabel"}
    assert frame.loc[("onelabel", "sl"), "Δm mean"] == pytest.approx(0.0, abs=1e-12)
    assert frame.loc[("onelabel", "xtc"), "Δm mean"] == pytest.approx(
        expected_dm(("onelabel", "xtc"), base=("onelabel", "sl")))
    assert "Δm baseline: sl@onelabel (fixed regime" in text


def test_without_stl_runs_delta_m_falls_back_to_full_label_sl(results, capsys):
    for folder in (results / "runs" / DS / "full" / "stl",):
        shutil.rmtree(folder)
    frame, text = table_csv(results, capsys)
    assert frame.loc[("onelabel", "xtc"), "Δm mean"] == pytest.approx(
        expected_dm(("onelabel", "xtc"), base=("full", "sl")))
    assert frame.loc[("full", "sl"), "Δm mean"] == pytest.approx(0.0, abs=1e-12)
    assert "no runs of the default baseline stl: Δm is against sl@full instead" in text
    # an explicit baseline never falls back
    assert main(["table", "--dataset", DS, "--results", str(results), "--baseline", "stl"]) == 2


def test_markdown_bold_best_underline_second_per_regime(results, capsys):
    assert main(["table", "--dataset", DS, "--results", str(results), "--format",
                 "markdown"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    assert [r[1] for r in rows] == ["STL", "Supervised Learning", "Supervised Learning",
                                    "Semi-supervised Learning", "Cross-task (XTC)"]
    stl, sl_full, sl_one, ssl, xtc = rows
    # full block: SL best on mIoU and depth; STL best on normals; with two rows no underline
    assert sl_full[2].startswith("**23.00**") and stl[2].startswith("22.00")
    assert stl[4].startswith("**31.00**") and sl_full[4].startswith("31.50")
    # one-label block: XTC best everywhere; second best underlined; ties share the rank
    assert xtc[2].startswith("**19.00**") and xtc[3].startswith("**0.6800**")
    assert xtc[4].startswith("**34.00**") and xtc[5].startswith("**")
    assert ssl[2].startswith("<u>17.00</u>") and sl_one[2].startswith("16.00")
    assert sl_one[3].startswith("<u>0.7200</u>") and ssl[3].startswith("0.7300")
    assert sl_one[4].startswith("<u>36.00</u>") and ssl[4].startswith("<u>36.00</u>")
    assert all(r[6] == "3" for r in rows)


def test_latex_is_paper_style_and_compiles(results, capsys, tmp_path):
    out = tmp_path / "t.tex"
    assert main(["table", "--dataset", DS, "--results", str(results), "--out", str(out)]) == 0
    tex = out.read_text()
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex
    assert "\\multirow" in tex and "\\cline" not in tex
    assert "\\textbf{19.00}" in tex and "\\underline{17.00}" in tex
    assert "\\textbf{0.6800}" in tex and "\\underline{0.7200}" in tex
    assert "$\\uparrow$" in tex and "$\\downarrow$" in tex
    assert "\\begin{tabular}" in tex and "\\caption{" in tex
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed (.ci/run installs it)")
    pdf = compile_latex(tex, tmp_path / "t.pdf")
    assert pdf.stat().st_size > 1000
    # also the bare table in the minimal document
    src = tmp_path / "doc.tex"
    src.write_text(standalone_document(tex))
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", src.name],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]


def test_paper_numbers_beside_measured(tmp_path, capsys):
    """--paper puts the published NYUv2 numbers (Table 2) beside the measured ones."""
    for seed in (0, 1):
        write_record(tmp_path, "nyuv2", "stl", "full", seed, metrics_of(37, 0.6, 25),
                     profile="paper")
        write_record(tmp_path, "nyuv2", "sl", "onelabel", seed, metrics_of(27 + seed, 0.64, 33),
                     profile="paper")
    frame, text = table_csv(tmp_path, capsys, "--paper", dataset="nyuv2")
    published = pd.read_csv(PAPER_CSV, comment="#")
    want = published[(published["table"] == 2) & (published["dataset"] == "nyuv2")
                     & (published["regime"] == "onelabel") & (published["method"] == "SL")]
    want = dict(zip(want["metric"], want["value"], strict=True))
    assert frame.loc[("onelabel", "sl"), "semantic/mIoU paper"] == pytest.approx(want["seg_miou"])
    assert frame.loc[("onelabel", "sl"), "depth/absErr paper"] == pytest.approx(
        want["depth_abs_err"])
    assert frame.loc[("onelabel", "sl"), "semantic/mIoU mean"] == pytest.approx(27.5)
    assert "Table 2" in text
    assert main(["table", "--dataset", "nyuv2", "--results", str(tmp_path), "--paper",
                 "--format", "latex"]) == 0
    tex = capsys.readouterr().out
    assert f"{want['seg_miou']:.2f}" in tex and "paper" in tex


def test_jtr_row_carries_its_own_papers_numbers(tmp_path, capsys):
    """A later paper's published row (JTR, Nishi et al., CVPR 2024) sits beside the measured one,
    cited by its own paper, next to the MTPSL paper's SL row."""
    for seed in (0, 1):
        write_record(tmp_path, "nyuv2", "sl", "randomlabels", seed, metrics_of(30, 0.6, 30),
                     profile="paper")
        write_record(tmp_path, "nyuv2", "jtr", "randomlabels", seed,
                     metrics_of(36 + seed, 0.56, 29.5), profile="paper")
    frame, text = table_csv(tmp_path, capsys, "--paper", dataset="nyuv2")
    published = pd.read_csv(JTR_CSV, comment="#")
    want = published[(published["dataset"] == "nyuv2") & (published["regime"] == "randomlabels")]
    want = dict(zip(want["metric"], want["value"], strict=True))
    row = frame.loc[("randomlabels", "jtr")]
    assert row["semantic/mIoU paper"] == pytest.approx(want["seg_miou"]) == pytest.approx(37.08)
    assert row["depth/absErr paper"] == pytest.approx(want["depth_abs_err"])
    assert row["normal/mean paper"] == pytest.approx(want["normal_mean_err"])
    assert row["semantic/mIoU mean"] == pytest.approx(36.5)
    assert not pd.isna(frame.loc[("randomlabels", "sl"), "semantic/mIoU paper"])
    assert main(["table", "--dataset", "nyuv2", "--results", str(tmp_path), "--paper"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert JTR_CITATION in out and CITATION in out


def test_table_errors_are_clear(results, capsys):
    assert main(["table", "--dataset", DS, "--results", str(results), "--methods", "xtcc"]) == 2
    err = capsys.readouterr().err
    assert "xtcc" in err and "xtc" in err and "Traceback" not in err
    assert main(["table", "--dataset", DS, "--results", str(results), "--paper"]) == 2
    assert "reports no numbers" in capsys.readouterr().err
    assert main(["table", "--dataset", DS, "--results", str(results / "nowhere")]) == 2
    assert "No run records" in capsys.readouterr().err
