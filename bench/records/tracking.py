"""Where a run's tracker data is: ``tracking.json`` in its run folder.

A run sent to experiment trackers (``bench run --track``, :mod:`bench.engine.tracking`) keeps
one entry per tracker in ``RUN/tracking.json``: TensorBoard's event folder, the MLflow run
(tracking URI, experiment, run id: a resumed run continues it), the W&B run (project, id, its
local folder), and the error of a tracker that failed mid-run. The record names the file
(``artifacts.tracking``); ``bench report`` says from it where each run can be watched
(:func:`tracker_lines`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.records.atomic import atomic_write_json

TRACKING = "tracking.json"


def read_tracking(run_dir: Path) -> dict[str, dict[str, Any]]:
    """The tracker entries of the run in ``run_dir`` (empty without any, or unreadable)."""
    try:
        data = json.loads((Path(run_dir) / TRACKING).read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}


def write_tracking(run_dir: Path, entries: dict[str, dict[str, Any]]) -> None:
    """Write the tracker entries of the run in ``run_dir`` (atomically)."""
    atomic_write_json(Path(run_dir) / TRACKING, entries)


def describe(name: str, entry: dict[str, Any], run_dir: Path) -> str:
    """One Markdown phrase saying where tracker ``name`` holds the run."""
    failed = f" (failed: {entry['error']})" if entry.get("error") else ""
    if name == "tensorboard":
        where = f"TensorBoard `{Path(run_dir) / entry.get('logdir', 'tensorboard')}`"
    elif name == "mlflow":
        where = (f"MLflow run `{entry.get('run_id')}` in experiment "
                 f"`{entry.get('experiment')}` at `{entry.get('tracking_uri')}`")
    elif name == "wandb":
        run_path = "/".join(str(p) for p in (entry.get("entity"), entry.get("project"),
                                              entry.get("id")) if p)
        where = f"W&B run `{run_path}` ({entry.get('mode') or 'online'}, local files " \
                f"`{Path(run_dir) / 'wandb'}`)"
    else:
        where = f"{name} `{Path(run_dir) / entry.get('save_dir', name)}`"
    return where + failed


def tracker_lines(run_dir: Path) -> list[str]:
    """Where each tracker holds the run in ``run_dir`` (one phrase per tracker)."""
    return [describe(name, entry, run_dir) for name, entry in read_tracking(run_dir).items()]
