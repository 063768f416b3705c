"""``bench perf`` end to end on a tiny batch: method and method+weighting rows, the default arch."""

from __future__ import annotations

import json

import pytest

from bench.cli import main


@pytest.mark.slow
def test_perf_times_methods_and_weighted_rows(tmp_path, capsys):
    out = tmp_path / "perf.json"
    assert main(["perf", "--methods", "sl", "--weighting", "dwa", "--size", "32x32",
                 "--width", "0.0625", "--batch", "2", "--rounds", "2", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["arch"] == "segnet"  # synthetic-nyuv2's default profile names no backbone
    rows = {r["method"]: r for r in data["results"]}
    assert set(rows) == {"sl", "sl+dwa"}
    assert all(len(r["times_s"]) == 2 and r["flops"] > 0 for r in rows.values())
    assert "× equal weights time" in capsys.readouterr().out
