"""Table 3: the paper's PASCAL-Context numbers line up with the records' task metrics."""

from __future__ import annotations

import hashlib
import io

import pandas as pd
import pytest
from records import method_info

from bench.cli import main
from bench.data.pascal_context import PascalContext
from bench.labels.regimes import parse_regime
from bench.metadata import DatasetInfo
from bench.records.record import Record, TaskEntry
from bench.records.store import record_dir, write_record
from bench.report.paper import published

TASKS = PascalContext.build_tasks()


def pascal_record(results, method: str, regime: str, seed: int, value: float) -> None:
    run = hashlib.sha256(f"{method}{regime}{seed}".encode()).hexdigest()
    metrics = {f"{t.name}/{m.key}": value for t in TASKS for m in t.metrics}
    record = Record(
        run_id=run[:12], group_id=run[:12], config_hash=run,
        spec={"method": method, "dataset": "pascal_context", "regime": regime, "seed": seed,
              "profile": "paper", "overrides": []},
        config={"regime": regime, "model": {"arch": "resnet18_aspp", "width": 1.0,
                                            "pretrained": None}},
        tasks=[TaskEntry.from_dict(t.describe()) for t in TASKS], status="ok",
        method_info=method_info(method),
        dataset_info=DatasetInfo("pascal_context", "PASCAL-Context", "paper"),
        metrics=metrics, history=[{"epoch": 1, "metrics": metrics}])
    write_record(record_dir(results, "pascal_context", parse_regime(regime).slug, method,
                            "paper", seed, run), record)


def test_every_paper_metric_of_table_3_is_a_task_metric_of_the_adapter():
    rows = published()
    columns = set(rows[rows["dataset"] == "pascal_context"]["column"])
    primaries = {f"{t.name}/{t.primary}" for t in TASKS}
    assert columns == primaries


def test_table_3_numbers_beside_measured_and_random_init_in_caption(tmp_path, capsys):
    for method, regime in (("sl", "full"), ("sl", "onelabel"), ("ssl", "onelabel"),
                           ("xtc", "onelabel"), ("xtc", "randomlabels")):
        pascal_record(tmp_path, method, regime, 0, 50.0)
    capsys.readouterr()
    assert main(["table", "--dataset", "pascal_context", "--results", str(tmp_path), "--paper",
                 "--format", "csv"]) == 0
    text = capsys.readouterr().out
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    frame = pd.read_csv(io.StringIO(body)).set_index(["regime", "method"])
    paper = published()
    want = paper[(paper["dataset"] == "pascal_context") & (paper["regime"] == "onelabel")
                 & (paper["method"] == "Ours")].set_index("column")["value"]
    for column, value in want.items():
        assert frame.loc[("onelabel", "xtc"), f"{column} paper"] == pytest.approx(value)
    assert frame.loc[("full", "sl"), "edge/odsF paper"] == pytest.approx(69.4)
    assert "Table 3" in text and "Encoder randomly initialised" in text
    assert main(["table", "--dataset", "pascal_context", "--results", str(tmp_path), "--paper",
                 "--format", "latex"]) == 0
    tex = capsys.readouterr().out
    caption = tex.split("\\caption{", 1)[1]
    assert "Encoder randomly initialised in 5 run(s)" in caption.split("\\label")[0]
