"""What became of the runs of a grid: counts per status, and the line the display shows.

Every launcher reports each run once, through :class:`GridCounts`: a finished record (``ok``,
``diverged``, ``failed``), a run found finished already (``skipped``), or a run that ended
without a record (``failed``, with why).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.config.runspec import RunSpec
from bench.engine.progress import ProgressSink
from bench.records.record import Record, RecordError
from bench.records.store import read_record

if TYPE_CHECKING:
    from bench.grid.plan import PlannedRun

SKIPPED = "skipped"


def summary_line(record: Record, spec: RunSpec) -> str:
    """One line on a finished run: its label, primary metrics and wall time (and its error)."""
    metrics = record.metrics
    prim = [f"{t.name} {metrics[t.name + '/' + t.primary]:.4g}" for t in record.tasks
            if isinstance(metrics.get(t.name + "/" + t.primary), (int, float))]
    text = f"{spec.label()}  {'  '.join(prim)}  ({record.timing.get('wall_time_s', 0):.0f} s)"
    if record.status != "ok" and record.error:
        text += f"\n         {str(record.error.get('message', '')).splitlines()[0]}"
    return text


class GridCounts(dict):
    """``status → number of runs``, filled as a launcher reports each run to ``progress``."""

    def __init__(self, progress: ProgressSink) -> None:
        super().__init__()
        self.progress = progress

    def add(self, status: str) -> None:
        self[status] = self.get(status, 0) + 1

    def record(self, record: Record, spec: RunSpec, key: str) -> None:
        """A run that ended with ``record``."""
        self.add(record.status)
        self.progress.finish(key, record.status, summary_line(record, spec))

    def outcome(self, outcome: Any, run: PlannedRun) -> None:
        """A claimed run's :class:`~bench.launch.claim.Outcome` (trained, or skipped)."""
        if outcome.status == SKIPPED:
            self.skipped(run.spec, run.directory.name, f"{outcome.note} in {run.directory}")
            return
        self.record(Record.from_dict(outcome.record), run.spec, run.directory.name)

    def skipped(self, spec: RunSpec, key: str, why: str) -> None:
        self.add(SKIPPED)
        self.progress.finish(key, SKIPPED, f"{spec.label()}: {why}")

    def failed(self, spec: RunSpec, key: str, why: str) -> None:
        """A run that ended without a record (a dead worker, a job that wrote none)."""
        self.add("failed")
        self.progress.finish(key, "failed", f"{spec.label()}: {why}")

    def already_finished(self, run: PlannedRun) -> None:
        """A run the plan found finished: counted as skipped, with its record's status."""
        try:
            record = read_record(run.directory)
        except RecordError:
            record = None
        self.skipped(run.spec, run.directory.name,
                     f"already finished ({record.status if record else '?'}) in {run.directory}")
