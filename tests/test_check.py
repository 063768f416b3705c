"""``bench check``: regressions fail (exit 1), noise within tolerance passes, configs must match."""

from __future__ import annotations

import numpy as np
import pytest
from records import metrics_of, write_record
from scipy import stats

from bench.cli import main
from bench.report.check import SAME, WORSE, Tolerance, compare_cell, two_sample_p

DS = "synthetic-nyuv2"
REFERENCE = {
    ("full", "stl"): [(20.0, 0.60, 30.0), (21.0, 0.61, 30.5), (22.0, 0.62, 31.0)],
    ("onelabel", "sl"): [(15.0, 0.70, 35.0), (15.5, 0.71, 35.5), (16.0, 0.72, 36.0)],
    ("onelabel", "xtc"): [(18.0, 0.66, 33.0), (18.5, 0.67, 33.5), (19.0, 0.68, 34.0)],
}


def write_grid(root, grid, tag=""):
    for (regime, method), seeds in grid.items():
        for seed, values in enumerate(seeds):
            write_record(root, DS, method, regime, seed, metrics_of(*values),
                         config_tag=tag if method == "xtc" else "")
    return root


def shifted(grid, method, column, factor):
    out = {}
    for key, seeds in grid.items():
        out[key] = [tuple(v * factor if (key[1] == method and j == column) else v
                          for j, v in enumerate(s)) for s in seeds]
    return out


def check(candidate, reference, *extra):
    return main(["check", "--dataset", DS, "--method", "xtc", "--results", str(candidate),
                 "--against", str(reference), *extra])


@pytest.fixture()
def reference(tmp_path):
    return write_grid(tmp_path / "reference", REFERENCE)


def test_noise_within_tolerance_passes(tmp_path, reference, capsys):
    noisy = {k: [tuple(v * (1 + 0.004 * (-1) ** (i + j)) for j, v in enumerate(s))
                 for i, s in enumerate(seeds)] for k, seeds in REFERENCE.items()}
    cand = write_grid(tmp_path / "cand", noisy)
    assert check(cand, reference) == 0
    out = capsys.readouterr().out
    assert "OK:" in out and "4 same" in out and "worse" not in out.split("OK:")[1]


def test_injected_regression_fails(tmp_path, reference, capsys):
    cand = write_grid(tmp_path / "cand", shifted(REFERENCE, "xtc", 0, 0.8))  # mIoU −20 %
    assert check(cand, reference) == 1
    out = capsys.readouterr().out
    assert "REGRESSION" in out and "semantic/mIoU: worse" in out
    # a lower-is-better metric that goes up is a regression too
    cand2 = write_grid(tmp_path / "cand2", shifted(REFERENCE, "xtc", 1, 1.2))
    assert check(cand2, reference) == 1
    assert "depth/absErr: worse" in capsys.readouterr().out


def test_improvement_is_better_and_passes(tmp_path, reference, capsys):
    cand = write_grid(tmp_path / "cand", shifted(REFERENCE, "xtc", 2, 0.8))  # normal error −20 %
    assert check(cand, reference) == 0
    out = capsys.readouterr().out
    assert "better" in out and "OK" in out


def test_large_but_insignificant_change_is_not_a_regression(tmp_path, reference, capsys):
    grid = dict(REFERENCE)
    grid[("onelabel", "xtc")] = [(12.0, 0.66, 33.0), (18.0, 0.67, 33.5), (24.5, 0.68, 34.0)]
    cand = write_grid(tmp_path / "cand", grid)  # mIoU mean 18.17 vs 18.5, huge spread
    assert check(cand, reference, "--tolerance", "0.1") == 0
    assert "REGRESSION" not in capsys.readouterr().out


def test_changed_config_is_not_comparable(tmp_path, reference, capsys):
    """Runs of another config compare no cell: the check says why and fails (a check that
    compared nothing cannot pass), unless --allow-missing asks for the old leniency."""
    cand = write_grid(tmp_path / "cand", shifted(REFERENCE, "xtc", 0, 0.5), tag="other")
    assert check(cand, reference) == 1
    out = capsys.readouterr().out
    assert "not comparable" in out and "config differs" in out
    assert "NOTHING COMPARED" in out and "another config than the reference's" in out
    assert check(cand, reference, "--allow-missing") == 0
    assert check(cand, reference, "--strict") == 1


def test_welch_and_mannwhitney_match_scipy():
    a, b = np.array([1.0, 2.0, 3.5]), np.array([2.0, 2.5, 4.0, 5.0])
    assert two_sample_p(a, b, "welch") == pytest.approx(
        stats.ttest_ind(a, b, equal_var=False).pvalue)
    assert two_sample_p(a, b, "mannwhitney") == pytest.approx(
        stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)
    assert np.isnan(two_sample_p(a[:1], b, "welch"))
    assert two_sample_p(np.array([1.0, 1.0]), np.array([1.0, 1.0]), "welch") == 1.0
    assert two_sample_p(np.array([1.0, 1.0]), np.array([2.0, 2.0]), "welch") == 0.0
    # the verdict needs both: beyond tolerance and significant
    status, _, _ = compare_cell(np.array([10.0, 10.1, 9.9]), np.array([12.0, 12.1, 11.9]), True,
                                Tolerance.parse("1%"), 0.05, "welch")
    assert status == WORSE
    status, _, reason = compare_cell(np.array([10.0, 10.1, 9.9]), np.array([10.05, 10.1, 10.0]),
                                     True, Tolerance.parse("2%"), 0.05, "welch")
    assert status == SAME and "within tolerance" in reason


def test_bad_check_input_is_a_clear_error(tmp_path, reference, capsys):
    cand = write_grid(tmp_path / "cand", REFERENCE)
    assert check(cand, reference, "--tolerance", "abc%") == 2
    assert "Bad tolerance" in capsys.readouterr().err
    assert check(cand, tmp_path / "missing") == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["check", "--dataset", DS, "--method", "xtcc", "--results", str(cand),
                 "--against", str(reference)]) == 2
    assert "xtcc" in capsys.readouterr().err
