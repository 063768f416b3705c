"""Records → a pandas DataFrame with one row per run and one column per ``task/metric``.

The ``method`` column is the run's table row: the method with equal weights (``sl``), else
``method+weighting`` (``sl+dwa``); ``base_method`` and ``weighting`` hold the two parts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench.records.record import Record
from bench.records.store import scan_records
from bench.report.names import Names

META_COLUMNS = ["run_id", "group_id", "config_hash", "dataset", "method", "base_method",
                "weighting", "regime", "seed", "overrides",
                "profile", "status", "finished_at", "path", "selection", "loss_reduction",
                "val_fraction", "val_images", "tuning"]


@dataclass(frozen=True)
class MetricInfo:
    """What a table needs to know about one metric column."""

    task: str
    key: str
    label: str
    higher_is_better: bool
    decimals: int
    primary: bool
    task_title: str = ""
    task_abbrev: str = ""
    unit: str = ""

    @property
    def column(self) -> str:
        return f"{self.task}/{self.key}"


@dataclass
class RecordSet:
    """The records of one dataset: the records (for histories), the frame, metrics and names.

    ``problems`` lists the record files that could not be read, with the reason.
    """

    records: list[Record]
    frame: pd.DataFrame
    metrics: list[MetricInfo]
    names: Names
    problems: list[tuple[Path, str]] = field(default_factory=list)

    def by_run_id(self) -> dict[str, Record]:
        return {r.run_id: r for r in self.records}


def records_frame(records: Iterable[Record]) -> pd.DataFrame:
    """One row per record: metadata columns then every final metric."""
    rows = []
    for r in records:
        row = {
            "run_id": r.run_id, "group_id": r.group_id, "config_hash": r.config_hash,
            "dataset": r.dataset, "method": r.row, "base_method": r.method,
            "weighting": r.weighting, "regime": r.regime, "seed": r.seed,
            "overrides": overrides_text(r.spec.get("overrides")),
            "profile": r.profile, "status": r.status, "finished_at": r.finished_at,
            "path": str(r.path) if r.path else None,
            # the protocol options a table names (records of schema 1 predate them)
            "selection": r.config.get("train", {}).get("selection", "last"),
            "loss_reduction": r.config.get("train", {}).get("loss_reduction", "unrecorded"),
            "val_fraction": float(r.config.get("validation", {}).get("fraction", 0.0)),
            "val_images": int(r.validation.get("images", 0)),
            "tuning": tuning_text(r.config.get("tuning")),
        }
        row.update({k: float(v) for k, v in r.metrics.items() if isinstance(v, (int, float))})
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=META_COLUMNS)
    return frame


def overrides_text(overrides: object) -> str:
    """The ``--set`` overrides of a run as a canonical, order-free text (``[]`` for none)."""
    pairs = sorted(json.dumps(list(o), sort_keys=True, default=str) for o in overrides or ())
    return "[" + ",".join(pairs) + "]"


def tuning_text(tuning: dict | None) -> str:
    """``"20 trials × 8 epochs (onelabel, seed 0)"`` for a run of a tuned profile, else ``""``."""
    if not tuning:
        return ""
    epochs = f"{tuning['epochs']} epochs" if tuning.get("epochs") else "the profile's epochs"
    return (f"{tuning.get('trials')} trials × {epochs} on the validation split "
            f"({tuning.get('regime')}, seed {tuning.get('seed')})")


def metric_infos(records: Iterable[Record]) -> list[MetricInfo]:
    """Metric descriptions from the records' ``tasks`` sections, in task order."""
    seen: dict[str, MetricInfo] = {}
    for r in records:
        for task in r.tasks:
            for m in task.metrics:
                info = MetricInfo(task.name, m.key, m.label, m.higher_is_better, m.decimals,
                                  m.key == task.primary, task.title, task.abbrev, m.unit)
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
    scan = scan_records(runs_root(results_root), dataset)
    records = scan.records
    return RecordSet(records, records_frame(records), metric_infos(records),
                     Names.from_records(records, dataset), scan.problems)
