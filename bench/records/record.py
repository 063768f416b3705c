"""The run record: one JSON file per run, written and read only through :class:`Record`.

A record holds what a run was (its resolved config and hash, the label mask), what it measured
(final metrics, per-epoch history), how it ran (timing, memory, environment, status) and the
metadata reports need to draw it (method and dataset names, task metrics), so reports read
records alone. Every record carries its ``schema`` version; :meth:`Record.from_dict` reads the
versions in :data:`READABLE` (upgrading older ones) and refuses anything else with a clear error.

Versions:

1. the first harness records;
2. adds ``method_info`` / ``dataset_info`` (names, colours, set membership), task titles,
   ``artifacts`` (files beside the record, e.g. the figure data ``visuals.npz``), the validation
   subset (``validation``), the selected epoch (``selection``) and its validation metrics
   (``val_metrics``); ``metrics`` are the test metrics of the selected epoch.
3. adds ``launch``: how the run was launched (``None`` for a plain local run): the submitit job
   id and its log files (``stdout``, ``stderr``) under Slurm or submitit's local executor, the
   GPUs the run saw (``cuda_visible_devices``); and the task weighting: ``spec.weighting`` and
   ``weighting_info`` (older records: equal).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.metadata import EQUAL, DatasetInfo, MethodInfo, WeightingInfo, row_key

SCHEMA_VERSION = 3
READABLE = (1, 2, 3)
STATUSES = ("ok", "diverged", "collapsed", "failed")
#: a run with one of these statuses is finished: a rerun skips it (a ``collapsed`` run ended
#: with metrics, but its cross-task mapping no longer depended on its input:
#: :mod:`bench.records.collapse`; it is never scored as a normal row)
FINISHED = ("ok", "diverged", "collapsed")


class RecordError(BenchError):
    """A record file that cannot be read as a record of a known schema version, or that is not
    a result (:meth:`Record.result_problem`)."""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class MetricEntry:
    """One metric of a task, as a record stores it."""

    key: str
    label: str
    higher_is_better: bool
    decimals: int
    unit: str = ""


@dataclass(frozen=True)
class TaskEntry:
    """One task of a record's dataset: its name, titles, primary metric and metrics."""

    name: str
    primary: str
    metrics: tuple[MetricEntry, ...]
    title: str = ""
    abbrev: str = ""

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TaskEntry:
        return cls(str(d["name"]), str(d["primary"]),
                   tuple(MetricEntry(str(m["key"]), str(m["label"]), bool(m["higher_is_better"]),
                                     int(m["decimals"]), str(m.get("unit", "")))
                         for m in d["metrics"]),
                   str(d.get("title") or d["name"]), str(d.get("abbrev") or d["name"]))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["metrics"] = [asdict(m) for m in self.metrics]
        return d


@dataclass
class Record:
    """One run (see the module docstring). ``path`` is where it was read from (not stored)."""

    run_id: str
    group_id: str
    config_hash: str
    spec: dict[str, Any]
    config: dict[str, Any]
    tasks: list[TaskEntry]
    status: str
    method_info: MethodInfo
    dataset_info: DatasetInfo
    weighting_info: WeightingInfo = field(default_factory=WeightingInfo.equal)
    mask: dict[str, Any] = field(default_factory=dict)
    validation: dict[str, Any] = field(default_factory=dict)
    selection: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    val_metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    epochs_completed: int = 0
    timing: dict[str, Any] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    weights: str | None = None
    artifacts: dict[str, str] = field(default_factory=dict)
    launch: dict[str, Any] | None = None
    started_at: str = ""
    finished_at: str = ""
    schema: int = SCHEMA_VERSION
    path: Path | None = field(default=None, compare=False)

    # -- what it names ---------------------------------------------------------------------------
    @property
    def method(self) -> str:
        return str(self.spec["method"])

    @property
    def weighting(self) -> str:
        """The task weighting (``equal`` for records that predate the axis)."""
        return str(self.spec.get("weighting") or EQUAL)

    @property
    def row(self) -> str:
        """The table row: the method, or ``method+weighting`` with a weighting other than equal."""
        return row_key(self.method, self.weighting)

    @property
    def dataset(self) -> str:
        return str(self.spec["dataset"])

    @property
    def regime(self) -> str:
        """The canonical regime string (as the config stores it)."""
        return str(self.config.get("regime", self.spec["regime"]))

    @property
    def seed(self) -> int:
        return int(self.spec["seed"])

    @property
    def profile(self) -> str:
        return str(self.spec["profile"])

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def finite_metrics(self) -> dict[str, float]:
        """The final metrics that are finite numbers."""
        return {k: float(v) for k, v in self.metrics.items()
                if isinstance(v, (int, float)) and math.isfinite(v)}

    # -- (de)serialisation ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "path":
                continue
            value = getattr(self, f.name)
            if f.name == "tasks":
                value = [t.to_dict() for t in value]
            elif isinstance(value, (MethodInfo, DatasetInfo, WeightingInfo)):
                value = value.to_dict()
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Any, path: Path | None = None) -> Record:
        """The record in ``data`` (a parsed JSON object); :class:`RecordError` if it is none."""
        where = f" ({path})" if path else ""
        if not isinstance(data, dict):
            raise RecordError(f"Not a run record{where}: the JSON is a {type(data).__name__}, "
                              "not an object.")
        version = data.get("schema")
        if version not in READABLE:
            raise RecordError(f"Record{where} has schema version {version!r}; this harness "
                              f"reads versions {', '.join(map(str, READABLE))}.",
                              "It was written by another version of the harness: rerun that run "
                              "with this one, or read it with the version that wrote it.")
        try:
            record = cls._parse(data, path)
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordError(f"Record{where} is malformed: {type(exc).__name__}: {exc}.") from None
        problem = record.result_problem()
        if problem:
            raise RecordError(f"Record{where} is not a result: {problem}.",
                              "Rerunning `bench run` with the same settings redoes the run "
                              "(keeping this file as record.unreadable-N.json).")
        return record

    def result_problem(self) -> str:
        """Why this record is not a result the harness may count ('' when it is one).

        A finished run (``ok``) has every task's primary metric as a finite number (in
        ``metrics``, or in ``val_metrics`` for a run that never touched the test split, a tuning
        trial: ``selection.test`` false); every metric is a number; a run that ended otherwise
        says why (``error.message``); the files it names lie inside its own folder.
        """
        for field_name in ("metrics", "val_metrics"):
            for key, value in getattr(self, field_name).items():
                if not _is_number(value):
                    return f"its {field_name} '{key}' is {value!r}, not a number"
        if self.status == "ok":
            scored = self.metrics if self.selection.get("test", True) else self.val_metrics
            if not self.tasks and not scored:
                return "it holds no metrics"
            for task in self.tasks:
                key = f"{task.name}/{task.primary}"
                if key not in scored:
                    return f"it has no {key}, the primary metric of {task.name}"
                if not math.isfinite(float(scored[key])):
                    return f"its {key} is {scored[key]}, not a finite number"
        elif not (isinstance(self.error, dict) and str(self.error.get("message", "")).strip()):
            return f"it ended {self.status} without saying why (error.message)"
        named = {f"artifacts.{k}": v for k, v in self.artifacts.items()}
        if self.weights is not None:
            named["weights"] = self.weights
        for key, name in named.items():
            parts = Path(str(name)).parts
            if not isinstance(name, str) or not parts or Path(name).is_absolute() or ".." in parts:
                return f"its {key} {name!r} is not a file name inside its run folder"
        return ""

    @classmethod
    def _parse(cls, data: dict[str, Any], path: Path | None) -> Record:
        spec = dict(data["spec"])
        method_info = (MethodInfo.from_dict(data["method_info"]) if data.get("method_info")
                       else MethodInfo.fallback(str(spec["method"])))
        dataset_info = (DatasetInfo.from_dict(data["dataset_info"]) if data.get("dataset_info")
                        else DatasetInfo(str(spec["dataset"]), str(spec["dataset"]), ""))
        weighting_info = (WeightingInfo.from_dict(data["weighting_info"])
                          if data.get("weighting_info") else WeightingInfo.equal())
        status = str(data["status"])
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        return cls(
            run_id=str(data["run_id"]), group_id=str(data["group_id"]),
            config_hash=str(data["config_hash"]), spec=spec, config=dict(data.get("config") or {}),
            tasks=[TaskEntry.from_dict(t) for t in data.get("tasks") or []], status=status,
            method_info=method_info, dataset_info=dataset_info, weighting_info=weighting_info,
            mask=dict(data.get("mask") or {}), validation=dict(data.get("validation") or {}),
            selection=dict(data.get("selection") or {}), metrics=dict(data.get("metrics") or {}),
            val_metrics=dict(data.get("val_metrics") or {}),
            history=list(data.get("history") or []),
            epochs_completed=int(data.get("epochs_completed") or 0),
            timing=dict(data.get("timing") or {}), memory=dict(data.get("memory") or {}),
            environment=dict(data.get("environment") or {}), error=data.get("error"),
            weights=data.get("weights"), artifacts=dict(data.get("artifacts") or {}),
            launch=dict(data["launch"]) if data.get("launch") else None,
            started_at=str(data.get("started_at") or ""),
            finished_at=str(data.get("finished_at") or ""), schema=SCHEMA_VERSION, path=path)


def config_differences(a: Mapping[str, Any], b: Mapping[str, Any], prefix: str = "",
                       limit: int = 6) -> list[str]:
    """The dotted keys whose values differ between two configs (``execution``, where and how a
    run executed, and ``seed`` left out), at most ``limit``: why two runs are not comparable."""
    out: list[str] = []
    for key in sorted(set(a) | set(b)):
        if not prefix and key in ("execution", "seed"):
            continue
        x, y = a.get(key, _ABSENT), b.get(key, _ABSENT)
        if isinstance(x, Mapping) and isinstance(y, Mapping):
            out += config_differences(x, y, f"{prefix}{key}.", limit - len(out))
        elif x != y:
            out.append(f"{prefix}{key}")
        if len(out) >= limit:
            break
    return out[:limit]


_ABSENT = object()
