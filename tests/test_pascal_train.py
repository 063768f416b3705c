"""Training with five PASCAL-Context tasks: every method, and the CLI end to end (slow)."""

from __future__ import annotations

import math

import pytest

from bench.cli import main
from bench.records.store import iter_records
from bench.registry import method_info, method_names
from bench.studies.perf import measure

pytestmark = pytest.mark.slow


def test_every_registered_method_trains_with_five_tasks_and_twenty_pairs():
    # every registered method: the paper's, the ablations, the negative controls, xtc-loop
    # (but the geometric oracle, which needs depth: PASCAL-Context has none)
    methods = ["sl", *[m for m in method_names() if m != "sl" and not method_info(m).needs_tasks]]
    results = measure(methods, "synthetic-pascal", width=0.0625, batch=4, height=32,
                      width_px=32, regime="onelabel", rounds=1, warmup=0,
                      arch="resnet18_aspp")
    assert [r.method for r in results] == methods
    assert all(r.step_s > 0 and r.flops > 0 for r in results)
    flops = {r.method: r.flops for r in results}
    # the 20 pairwise ResNet-ASPP mappings make Direct-Map far dearer than SL
    assert flops["direct_map"] > 3 * flops["sl"]


def test_sl_ssl_xtc_run_end_to_end_on_synthetic_pascal(tmp_path, capsys):
    data, results = tmp_path / "data", tmp_path / "results"
    code = main(["run", "--methods", "sl,ssl,xtc", "--dataset", "synthetic-pascal",
                 "--profile", "smoke", "--regimes", "onelabel", "--jobs", "1",
                 "--data-root", str(data), "--results", str(results)])
    assert code == 0
    records = list(iter_records(results))
    assert sorted(r.method for r in records) == ["sl", "ssl", "xtc"]
    for r in records:
        assert r.status == "ok"
        assert r.config["model"]["arch"] == "resnet18_aspp"
        assert r.config["model"]["pretrained"] is None
        for key in ("semseg/mIoU", "human_parts/mIoU", "normals/mean", "saliency/mIoU",
                    "saliency/maxF", "edge/odsF"):
            assert math.isfinite(r.metrics[key]), key
    out = capsys.readouterr()
    assert "Edge odsF" in out.out + out.err
    assert main(["report", "--dataset", "synthetic-pascal", "--results", str(results),
                 "--out", str(tmp_path / "report")]) == 0
    assert (tmp_path / "report" / "mapped_xtc.png").is_file()
