"""Record store: one JSON file per run, at a path derived from the RunSpec and its config hash.

::

    RESULTS/runs/<dataset>/<regime>/<method>/<profile>-seed<seed>-<hash10>/
        record.json        the record (written atomically, last)
        model_final.pth    final weights (state_dict, loads with weights_only=True)
        work/              mmengine work dir: checkpoints while running, logs

A run is *finished* when ``record.json`` exists with status ``ok`` or ``diverged``; a ``failed``
or missing record means the run is (re)started and resumes from its last checkpoint.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.regimes import parse_regime
from bench.runspec import RunSpec

FINISHED = ("ok", "diverged")
RECORD = "record.json"


def run_dir(results_root: Path, spec: RunSpec, chash: str) -> Path:
    regime = parse_regime(spec.regime).slug
    return (Path(results_root) / "runs" / spec.dataset / regime / spec.method
            / f"{spec.profile}-seed{spec.seed}-{chash[:10]}")


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write JSON to a temporary file in the same folder, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1, sort_keys=False, default=_jsonable)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def read_record(directory: Path) -> dict[str, Any] | None:
    path = Path(directory) / RECORD
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError:
        return None  # a torn write cannot happen (atomic), but never crash on a bad file


def is_finished(directory: Path) -> bool:
    record = read_record(directory)
    return record is not None and record.get("status") in FINISHED


def iter_records(results_root: Path, dataset: str | None = None) -> Iterator[dict[str, Any]]:
    """Every record under ``results_root/runs`` (optionally of one dataset), with its path."""
    base = Path(results_root) / "runs"
    if dataset:
        base = base / dataset
    if not base.is_dir():
        return
    for path in sorted(base.rglob(RECORD)):
        try:
            record = json.loads(path.read_text())
        except ValueError:
            continue
        record["_path"] = str(path.parent)
        yield record
