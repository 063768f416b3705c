"""The state of each run of a grid: pending, running, finished, failed or diverged.

From what lies in the run's folder and, for runs a launcher submitted, from the scheduler:

* ``finished`` / ``diverged`` / ``collapsed``: its record says so (nothing overrides a finished
  record);
* ``running``: a process holds its ``run.lock``, or the scheduler runs its job;
* ``pending``: not started, queued at the scheduler, or interrupted (it resumes from its last
  checkpoint);
* ``failed``: its record says so, or its job ended without writing a finished record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.config.runspec import RunSpec
from bench.engine.checkpoints import checkpoint_epoch, checkpoints
from bench.launch.job import read_launch
from bench.launch.scheduler import ACTIVE, ENDED, QUEUED, JobState, job_states
from bench.records.locks import holder, is_locked
from bench.records.record import RecordError, config_differences
from bench.records.store import read_record

if TYPE_CHECKING:
    from bench.grid.plan import PlannedRun

PENDING, RUNNING, FINISHED, FAILED, DIVERGED, COLLAPSED = (
    "pending", "running", "finished", "failed", "diverged", "collapsed")
STATES = (PENDING, RUNNING, FINISHED, FAILED, DIVERGED, COLLAPSED)


@dataclass
class RunState:
    """One run's state, with a word on why and where its log is (``run`` None: not planned)."""

    run: PlannedRun | None
    state: str
    detail: str = ""
    job: str = ""
    log: str = ""
    unplanned_spec: RunSpec | None = None

    @property
    def spec(self) -> RunSpec:
        return self.run.spec if self.run is not None else self.unplanned_spec


def unplanned(spec: RunSpec) -> RunState:
    """A run of a grid that was never planned where the results are (no run folder to read)."""
    return RunState(None, PENDING, "not planned here yet", unplanned_spec=spec)


def grid_states(runs: Sequence[PlannedRun],
                scheduler: Callable[[Iterable[Mapping[str, Any]]], dict[str, JobState]]
                = job_states) -> list[RunState]:
    """The state of every run (see the module docstring); ``scheduler`` maps launches to job
    states (submitit; injectable for tests)."""
    launches = {r.directory: launch for r in runs
                if (launch := read_launch(r.directory)) is not None}
    jobs = scheduler(launches.values()) if launches else {}
    out = []
    for run in runs:
        launch = launches.get(run.directory)
        job = jobs.get(str(launch["job_id"])) if launch else None
        out.append(run_state(run, launch, job))
    return out


def run_state(run: PlannedRun, launch: Mapping[str, Any] | None,
              job: JobState | None) -> RunState:
    """The state of one run from its folder, its launch and its job's state."""
    directory = Path(run.directory)
    job_id = str(launch["job_id"]) if launch else ""
    job_word = f"{job_id} ({job.word})" if job and job_id else job_id
    try:
        record = read_record(directory)
        unreadable = ""
    except RecordError as exc:
        record, unreadable = None, exc.message
    log = _log_path(directory, record.launch if record else None, launch)
    if record is not None and record.finished:
        state = {"ok": FINISHED, "collapsed": COLLAPSED}.get(record.status, DIVERGED)
        detail = _metrics_summary(record.metrics) if state == FINISHED else _first_line(
            record.error)
        return RunState(run, state, detail, job_id, log)
    if is_locked(directory):
        return RunState(run, RUNNING, f"held by {holder(directory)}{_resume(directory)}",
                        job_word, log)
    if job is not None and job.kind == ACTIVE:
        return RunState(run, RUNNING, f"job running{_resume(directory)}", job_word, log)
    if job is not None and job.kind == QUEUED:
        return RunState(run, PENDING, f"queued{_resume(directory)}", job_word, log)
    if record is not None:  # failed
        return RunState(run, FAILED, _first_line(record.error), job_word, log)
    if unreadable:
        return RunState(run, PENDING, f"unreadable record ({unreadable}); it is done again",
                        job_word, log)
    if job is not None and job.kind == ENDED:
        return RunState(run, FAILED, f"its job ended without a record{_resume(directory)}; "
                                     "see the log", job_word, log)
    note = _resume(directory).lstrip("; ") or _changed(run)
    return RunState(run, PENDING, note or ("submitted" if job_id else ""), job_word, log)


def _changed(run: PlannedRun) -> str:
    """Why a never-started run is pending although the same run (method, regime, profile,
    seed) was made before: its config differs from that run's (a split file rewritten, a
    changed default, another ``--set``); the keys that differ."""
    directory = Path(run.directory)
    prefix = directory.name.rsplit("-", 1)[0]
    for other in sorted(directory.parent.glob(f"{prefix}-*")):
        if other == directory:
            continue
        try:
            record = read_record(other)
        except RecordError:
            continue
        if record is not None:
            keys = config_differences(record.config, run.config)
            return (f"its config differs from the run in {other.name} "
                    f"({', '.join(keys) or 'hash'})")
    return ""


def _resume(directory: Path) -> str:
    found = checkpoints(directory / "work") if (directory / "work").is_dir() else []
    return f"; resumes after epoch {checkpoint_epoch(found[0])}" if found else ""


def _first_line(error: Mapping[str, Any] | None) -> str:
    if not error:
        return ""
    return str(error.get("message", "")).strip().splitlines()[0][:160] if error.get(
        "message") else str(error.get("type", ""))


def _metrics_summary(metrics: Mapping[str, Any]) -> str:
    items = list(metrics.items())[:3]
    return "  ".join(f"{k} {v:.4g}" for k, v in items if isinstance(v, (int, float)))


def _log_path(directory: Path, from_record: Mapping[str, Any] | None,
              launch: Mapping[str, Any] | None) -> str:
    """The run's job log (from its record, else its launch file), else its newest mmengine
    log."""
    for source in (from_record, launch):
        if source and source.get("stdout"):
            return str(source["stdout"])
    logs = sorted((directory / "work").glob("*/*.log"), key=lambda p: p.stat().st_mtime)
    return str(logs[-1]) if logs else ""


def count_states(states: Iterable[RunState]) -> dict[str, int]:
    """How many runs are in each state (every state named, zero included)."""
    counts = dict.fromkeys(STATES, 0)
    for s in states:
        counts[s.state] += 1
    return counts
