"""Records → a pandas DataFrame with one row per run and one column per ``task/metric``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench.store import iter_records

META_COLUMNS = ["run_id", "group_id", "config_hash", "dataset", "method", "regime", "seed",
                "profile", "status", "finished_at", "path"]


@dataclass(frozen=True)
class MetricInfo:
    """What a table needs to know about one metric column."""

    task: str
    key: str
    label: str
    higher_is_better: bool
    decimals: int
    primary: bool

    @property
    def column(self) -> str:
        return f"{self.task}/{self.key}"


@dataclass
class RecordSet:
    """The records of one dataset: the raw dicts (for histories), the frame and the metrics."""

    records: list[dict[str, Any]]
    frame: pd.DataFrame
    metrics: list[MetricInfo]

    def by_run_id(self) -> dict[str, dict[str, Any]]:
        return {r.get("run_id"): r for r in self.records}


def records_frame(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per record: metadata columns then every final metric."""
    rows = []
    for r in records:
        spec = r.get("spec", {})
        row = {
            "run_id": r.get("run_id"), "group_id": r.get("group_id"),
            "config_hash": r.get("config_hash"),
            "dataset": spec.get("dataset"), "method": spec.get("method"),
            "regime": r.get("config", {}).get("regime", spec.get("regime")),
            "seed": spec.get("seed"), "profile": spec.get("profile"),
            "status": r.get("status"), "finished_at": r.get("finished_at") or "",
            "path": r.get("_path"),
        }
        row.update({k: float(v) for k, v in (r.get("metrics") or {}).items()
                    if isinstance(v, (int, float))})
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=META_COLUMNS)
    return frame


def metric_infos(records: Iterable[dict[str, Any]]) -> list[MetricInfo]:
    """Metric descriptions from the records' ``tasks`` sections, in task order."""
    seen: dict[str, MetricInfo] = {}
    for r in records:
        for task in r.get("tasks", []):
            for m in task["metrics"]:
                info = MetricInfo(task["name"], m["key"], m["label"], m["higher_is_better"],
                                  m["decimals"], m["key"] == task["primary"])
                seen.setdefault(info.column, info)
    return list(seen.values())


def runs_root(folder: Path) -> Path:
    """The results root of ``folder``: itself, or its parent when given its ``runs/`` folder."""
    folder = Path(folder)
    if not (folder / "runs").is_dir() and folder.name == "runs":
        return folder.parent
    return folder


def load_records(results_root: Path, dataset: str) -> RecordSet:
    """Every record of ``dataset`` under ``results_root/runs`` as a :class:`RecordSet`."""
    records = list(iter_records(runs_root(results_root), dataset))
    return RecordSet(records, records_frame(records), metric_infos(records))


def load_frame(results_root: Path, dataset: str) -> tuple[pd.DataFrame, list[MetricInfo]]:
    rs = load_records(results_root, dataset)
    return rs.frame, rs.metrics
