"""Record store: one record per run, at a path derived from the RunSpec and its config hash.

::

    RESULTS/runs/<dataset>/<regime>/<method>/<profile>-seed<seed>-<hash10>/
        record.json        the record (written atomically, after the weights and figure data)
        run.lock           held by the process that trains the run (bench.records.locks)
        launch.json        the submitit job of a submitted run and its log files (bench.launch.job)
        model_final.pth    final weights (state_dict, loads with weights_only=True)
        visuals.npz        what the report's figures draw of this run
        work/              mmengine work dir: checkpoints while running, logs

A run is *finished* when ``record.json`` exists with status ``ok`` or ``diverged``; a ``failed``,
missing or unreadable record means the run is (re)started and resumes from its last checkpoint
(an unreadable record is first renamed ``record.unreadable-N.json``, never overwritten). Only the
process holding the folder's ``run.lock`` (:mod:`bench.records.locks`) trains the run.
Records are written and read through :class:`bench.records.record.Record` only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.records import atomic
from bench.records.record import Record, RecordError

RECORD = "record.json"


def record_dir(results_root: Path, dataset: str, regime_slug: str, method: str, profile: str,
               seed: int, chash: str) -> Path:
    """The folder of one run's record."""
    return (Path(results_root) / "runs" / dataset / regime_slug / method
            / f"{profile}-seed{seed}-{chash[:10]}")


def check_results_folder(results_root: Path, *, write: bool) -> None:
    """A :class:`~bench.errors.BenchError` (exit 2) unless ``results_root`` can hold runs: a
    folder (or a path one can be made at) whose ``runs`` is a folder too; ``write``: and the
    runs can be written there."""
    from bench.errors import BenchError

    root = Path(results_root)
    runs = root / "runs"
    hint = "Give --results a folder (it is made if missing), or unset $BENCH_RESULTS."
    for path in (root, runs):
        if path.exists() and not path.is_dir():
            raise BenchError(f"The results folder {root} cannot hold runs: {path} is a file, "
                             "not a folder.", hint)
    if not write:
        return
    existing = next(p for p in (runs, *runs.parents) if p.exists())  # made when a run writes
    if not existing.is_dir():
        raise BenchError(f"The results folder {root} cannot be made: {existing} is a file.", hint)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise BenchError(f"The results folder {root} cannot be written to ({existing} is not "
                         "writable).", hint)


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically and durably, readable by the group (see :mod:`bench.records.atomic`)."""
    atomic.atomic_write_json(Path(path), obj, indent=1, default=_jsonable)


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_record(directory: Path, record: Record) -> None:
    atomic_write_json(Path(directory) / RECORD, record.to_dict())


def load_record_file(path: Path) -> Record:
    """The record in ``path``; :class:`RecordError` if it is not valid JSON or not a record."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RecordError(f"Cannot read record {path}: {type(exc).__name__}: {exc}") from None
    return Record.from_dict(data, path=path.parent)


def read_record(directory: Path) -> Record | None:
    """The record of the run in ``directory``; ``None`` if there is none yet.

    An unreadable record raises :class:`RecordError`.
    """
    path = Path(directory) / RECORD
    if not path.is_file():
        return None
    return load_record_file(path)


def is_finished(directory: Path) -> bool:
    """Whether the run in ``directory`` has a readable record with a finished status."""
    try:
        record = read_record(directory)
    except RecordError:
        return False
    return record is not None and record.finished


def set_aside_unreadable(directory: Path) -> Path | None:
    """Rename an unreadable ``record.json`` of ``directory`` to ``record.unreadable-N.json``.

    Called before a run is redone: the new record never overwrites a file that could still
    matter to someone (a record of a newer schema version, say). Returns the new name, if any.
    """
    path = Path(directory) / RECORD
    try:
        read_record(directory)
        return None
    except RecordError:
        pass
    n = 1
    while (target := path.with_name(f"record.unreadable-{n}.json")).exists():
        n += 1
    os.replace(path, target)
    return target


@dataclass
class RecordScan:
    """The records found under a results root, and the files that could not be read."""

    records: list[Record] = field(default_factory=list)
    problems: list[tuple[Path, str]] = field(default_factory=list)


def scan_records(results_root: Path, dataset: str | None = None) -> RecordScan:
    """Every record under ``results_root/runs`` (optionally of one dataset).

    Unreadable files are not skipped silently: they come back in ``problems`` with the reason.
    """
    scan = RecordScan()
    base = Path(results_root) / "runs"
    if dataset:
        base = base / dataset
    if not base.is_dir():
        return scan
    for path in sorted(base.rglob(RECORD)):
        try:
            scan.records.append(load_record_file(path))
        except RecordError as exc:
            scan.problems.append((path, exc.message))
    return scan


def iter_records(results_root: Path, dataset: str | None = None) -> Iterator[Record]:
    """The readable records of :func:`scan_records`."""
    yield from scan_records(results_root, dataset).records
