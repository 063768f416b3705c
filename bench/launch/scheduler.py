"""What the scheduler says about submitted runs: one state per job, through submitit.

Slurm jobs are asked with one ``sacct`` call for all of them (submitit's
:class:`~submitit.slurm.slurm.SlurmInfoWatcher`). Jobs of submitit's local executor are asked of
the machine: a job whose controller process is alive is running, one with a result file ended.

States are reduced to a few words (:data:`QUEUED`, :data:`ACTIVE`, :data:`ENDED`,
:data:`UNKNOWN`); the scheduler's own word is kept beside them for display.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

QUEUED = "queued"
ACTIVE = "running"
ENDED = "ended"
UNKNOWN = "unknown"

_SLURM_QUEUED = {"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING",
                 "RESIZING", "SUSPENDED", "STAGE_OUT", "SIGNALING"}
_SLURM_ACTIVE = {"RUNNING", "COMPLETING"}


@dataclass(frozen=True)
class JobState:
    """A job's state: ``kind`` is one of the module's constants, ``word`` the scheduler's."""

    kind: str
    word: str

    @property
    def active(self) -> bool:
        return self.kind in (QUEUED, ACTIVE)


def slurm_kind(word: str) -> str:
    """The kind of a Slurm state word (``CANCELLED by 123`` → ended)."""
    base = word.split()[0].rstrip("+").upper() if word.strip() else ""
    if base in _SLURM_QUEUED:
        return QUEUED
    if base in _SLURM_ACTIVE:
        return ACTIVE
    if not base or base == "UNKNOWN":
        return UNKNOWN
    return ENDED


def slurm_states(job_ids: Iterable[str]) -> dict[str, JobState]:
    """Slurm's state of each job (one ``sacct`` call); ``unknown`` where it says nothing."""
    from submitit.slurm.slurm import SlurmInfoWatcher

    ids = sorted(set(job_ids))
    if not ids:
        return {}
    watcher = SlurmInfoWatcher(delay_s=0)
    for job_id in ids:
        watcher.register_job(job_id)
    watcher.update()
    out = {}
    for job_id in ids:
        word = watcher.get_state(job_id, mode="cache")
        out[job_id] = JobState(slurm_kind(word), word)
    return out


def local_state(launch: Mapping[str, Any]) -> JobState:
    """The state of a job of submitit's local executor (its id is its controller's pid)."""
    from submitit.core.utils import JobPaths

    job_id = str(launch["job_id"])
    paths = JobPaths(Path(str(launch.get("folder", "."))), job_id)
    if paths.result_pickle.exists():
        return JobState(ENDED, "FINISHED")
    if _controller_alive(job_id):
        return JobState(ACTIVE, "RUNNING")
    return JobState(ENDED, "NO PROCESS")


def _controller_alive(job_id: str) -> bool:
    try:
        pid = int(job_id.split("_")[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (ValueError, OSError):
        return False
    return b"submitit" in cmdline


def job_states(launches: Iterable[Mapping[str, Any]]) -> dict[str, JobState]:
    """The state of every launched job, by job id."""
    launches = list(launches)
    out = slurm_states(str(x["job_id"]) for x in launches if x.get("launcher") == "slurm")
    for launch in launches:
        if launch.get("launcher") == "submitit-local":
            out[str(launch["job_id"])] = local_state(launch)
    return out
