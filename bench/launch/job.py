"""One run as a submitit job: what the job executes, and where its launch is written down.

:class:`RunJob` is the callable submitit pickles for each run. In the job it claims the run
(:func:`bench.launch.claim.run_claimed`, waiting if another process holds it) and trains it,
resuming from the newest intact checkpoint. It is a :class:`submitit.helpers.Checkpointable`:
when Slurm warns that the job reaches its time limit or is preempted (``USR2``), submitit calls
:meth:`RunJob.checkpoint`, which resubmits the same call, and requeues the job; the requeued job
resumes the run from its last kill-safe checkpoint (:mod:`bench.engine.checkpoints`), so at
most the epoch in progress is trained again.

``RUN/launch.json`` says which job trains a run and where its log is; the record of the run
carries the same (``launch``, see :func:`bench.engine.environment.launch_info`), so a run's log is
found from either.
"""

from __future__ import annotations

import platform
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import submitit

from bench.config.runspec import RunSpec
from bench.records.atomic import atomic_write_json

LAUNCH_FILE = "launch.json"


class _PrintSink:
    """Progress of a run in a job: messages and each run's end go to the job's log."""

    def start(self, key: str, label: str, total: int, completed: int) -> None:
        print(f"[bench] {label}: {completed}/{total} iterations done at start", flush=True)

    def update(self, key: str, completed: int, info: str = "") -> None:
        pass

    def finish(self, key: str, status: str, summary: str = "") -> None:
        print(f"[bench] {status}: {summary}", flush=True)

    def message(self, text: str) -> None:
        print(f"[bench] {text}", flush=True)


class RunJob(submitit.helpers.Checkpointable):
    """Train one run in a submitit job (see the module docstring)."""

    def __init__(self, spec: RunSpec, config: dict[str, Any], directory: str) -> None:
        self.spec = spec
        self.config = config
        self.directory = directory

    def __call__(self) -> dict[str, Any]:
        from bench.launch.claim import run_claimed

        sink = _PrintSink()
        sink.message(f"{self.spec.label()} in {self.directory} (python {sys.executable})")
        outcome = run_claimed(self.spec, self.config, Path(self.directory), sink, wait=True)
        record = outcome.record or {}
        sink.message(f"{self.spec.label()}: {outcome.status} {outcome.note}".rstrip())
        return {"status": outcome.status, "metrics": record.get("metrics", {}),
                "directory": self.directory}

    def checkpoint(self, *args: Any, **kwargs: Any) -> submitit.helpers.DelayedSubmission:
        """Requeue the same run: it resumes from its newest kill-safe checkpoint."""
        print(f"[bench] {self.spec.label()}: time limit or preemption; requeued, resuming "
              "from the last checkpoint", flush=True)
        return super().checkpoint(*args, **kwargs)


def write_launch(directory: Path, launcher: str, job: Any, folder: Path) -> dict[str, Any]:
    """Write ``RUN/launch.json`` for a run submitted as ``job`` (a submitit job)."""
    info = {"launcher": launcher, "job_id": str(job.job_id), "folder": str(folder),
            "stdout": str(job.paths.stdout), "stderr": str(job.paths.stderr),
            "submitted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "host": platform.node()}
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_json(directory / LAUNCH_FILE, info)
    return info


def read_launch(directory: Path) -> dict[str, Any] | None:
    """The launch of the run in ``directory`` (``None`` if it was never submitted)."""
    import json

    try:
        data = json.loads((Path(directory) / LAUNCH_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "job_id" in data else None
