"""The path a new user walks after the quick start: a small grid, then every reading command on
its records, from the records alone (no data root), and the same on a grid of one run.

Each command must exit as it says, print what it promises, and never show a traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli import main

DATASET = ["--dataset", "synthetic-nyuv2", "--profile", "smoke"]


def _read(argv: list[str], results: Path, no_data: Path, capsys) -> tuple[int, str]:
    code = main([*argv, *DATASET, "--results", str(results), "--data-root", str(no_data)])
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "Traceback" not in text, text
    return code, text


@pytest.mark.slow
def test_the_newcomer_path_reads_every_command_from_the_records(synthetic_root, tmp_path,
                                                                capsys):
    results = tmp_path / "results"
    assert main(["run", "--methods", "stl,sl,xtc", "--regimes", "full,onelabel", "--seeds",
                 "0,1", "--jobs", "2", *DATASET, "--data-root", str(synthetic_root),
                 "--results", str(results)]) == 0
    capsys.readouterr()
    no_data = tmp_path / "no-data-here"  # every reading command works from --results alone

    for fmt, words in (("rich", "xtc"), ("markdown", "| Cross-task (XTC)"),
                       ("latex", r"\begin{tabular}"), ("csv", "regime,method")):
        code, text = _read(["table", "--format", fmt], results, no_data, capsys)
        assert code == 0 and words in text, (fmt, text)
    code, text = _read(["table", "--weighting", "equal", "--seeds", "0,1", "--methods",
                        "sl,xtc"], results, no_data, capsys)
    assert code == 0 and "xtc" in text

    out = tmp_path / "report"
    code, text = _read(["report", "--out", str(out), "--no-pdf"], results, no_data, capsys)
    assert code == 0, text
    index = (out / "index.md").read_text()
    assert "## Tables" in index and "## Figures" in index and "Bars: Δm" in index
    assert (out / "bars_dm.png").is_file() and (out / "qualitative.png").is_file()

    code, text = _read(["check", "--method", "stl,sl,xtc", "--against", str(results)],
                       results, no_data, capsys)
    assert code == 0 and "OK: 24 same" in text, text

    code, text = _read(["status", "--methods", "stl,sl,xtc", "--regimes", "full,onelabel",
                        "--seeds", "0,1"], results, no_data, capsys)
    assert code == 0 and "finished 12" in text.replace("\n", " "), text

    code, text = _read(["power", "--no-run", "--methods", "xtc", "--regimes", "onelabel",
                        "--seeds", "0,1"], results, no_data, capsys)
    assert code == 0 and "Positive control sl@full vs sl@onelabel" in text, text
    assert "Against SL: xtc vs sl on onelabel" in text


@pytest.mark.slow
def test_a_grid_of_one_run_reads_too_and_says_what_it_cannot_compare(synthetic_root,
                                                                     tmp_path, capsys):
    results = tmp_path / "results"
    assert main(["run", "--methods", "sl", "--regimes", "onelabel", "--seeds", "0",
                 *DATASET, "--data-root", str(synthetic_root), "--results", str(results)]) == 0
    capsys.readouterr()
    no_data = tmp_path / "no-data-here"

    for fmt, words in (("rich", "sl"), ("markdown", "Supervised Learning"),
                       ("latex", "Supervised Learning"), ("csv", "onelabel,sl")):
        code, text = _read(["table", "--format", fmt], results, no_data, capsys)
        assert code == 0 and words in text, (fmt, text)
    out = tmp_path / "report"
    code, text = _read(["report", "--out", str(out), "--no-pdf"], results, no_data, capsys)
    assert code == 0, text
    index = (out / "index.md").read_text()
    assert "Bars: Δm: left out" in index  # Δm has no baseline run to compare with
    assert not (out / "bars_dm.png").exists() and (out / "bars_semantic_miou.png").is_file()

    code, text = _read(["check", "--method", "sl", "--against", str(results)], results,
                       no_data, capsys)
    assert code == 0 and "same" in text
    code, text = _read(["status", "--methods", "sl", "--regimes", "onelabel", "--seeds", "0"],
                       results, no_data, capsys)
    assert code == 0 and "finished 1" in text.replace("\n", " ")
    code, text = _read(["power", "--no-run", "--methods", "sl", "--regimes", "onelabel",
                        "--seeds", "0,1"], results, no_data, capsys)
    assert code == 1 and "Nothing was compared" in text, text  # no full-label SL to compare
    code, text = _read(["power", "--no-run", "--methods", "sl", "--regimes", "onelabel",
                        "--seeds", "0,1", "--allow-missing"], results, no_data, capsys)
    assert code == 0
    code, text = _read(["check", "--method", "sl", "--against", str(tmp_path / "empty-ref")],
                       results, no_data, capsys)
    assert code == 2 and "does not exist" in text
