"""``bench status``: each run's state from its record, its lock, its launch and its job."""

from __future__ import annotations

from pathlib import Path

from records import metrics_of, write_record

from bench.config.runspec import RunSpec
from bench.grid.plan import PlannedRun
from bench.launch.job import LAUNCH_FILE
from bench.launch.scheduler import ACTIVE, ENDED, QUEUED, JobState
from bench.launch.status import count_states, grid_states
from bench.records.atomic import atomic_write_json
from bench.records.locks import RunLock


def _run(directory: Path, seed: int) -> PlannedRun:
    return PlannedRun(RunSpec("sl", "nyuv2", "onelabel", seed, "quick"), {}, directory, False)


def _launch(directory: Path, job: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_json(directory / LAUNCH_FILE, {"launcher": "slurm", "job_id": job,
                                                "stdout": f"/logs/{job}_0_log.out"})


def test_every_state(tmp_path):
    res = tmp_path / "res"
    m = metrics_of(40.0, 0.5, 20.0)
    ok = write_record(res, "nyuv2", "sl", "onelabel", 0, m)
    diverged = write_record(res, "nyuv2", "sl", "onelabel", 1, m, status="diverged")
    failed = write_record(res, "nyuv2", "sl", "onelabel", 2, m, status="failed")
    collapsed = write_record(res, "nyuv2", "xtc", "onelabel", 0, m, status="collapsed")
    locked, queued, ran, ended, fresh = (tmp_path / n for n in (
        "locked", "queued", "ran", "ended", "fresh"))
    for job, folder in (("7_0", queued), ("7_1", ran), ("7_2", ended)):
        _launch(folder, job)
    (fresh / "work").mkdir(parents=True)
    (fresh / "work" / "epoch_3.pth").write_bytes(b"")
    _launch(failed, "7_3")  # failed before, now queued again: pending
    jobs = {"7_0": JobState(QUEUED, "PENDING"), "7_1": JobState(ACTIVE, "RUNNING"),
            "7_2": JobState(ENDED, "TIMEOUT"), "7_3": JobState(QUEUED, "PENDING")}
    folders = [ok, diverged, failed, collapsed, locked, queued, ran, ended, fresh]
    lock = RunLock(locked)  # flock: another open file of this process sees it held too
    assert lock.acquire()
    try:
        states = grid_states([_run(f, i) for i, f in enumerate(folders)],
                             scheduler=lambda launches: jobs)
    finally:
        lock.release()
    got = {Path(s.run.directory).name: (s.state, s.job) for s in states}
    assert got[ok.name][0] == "finished" and got[diverged.name][0] == "diverged"
    assert got[collapsed.name][0] == "collapsed"
    assert got[failed.name] == ("pending", "7_3 (PENDING)")
    assert got["locked"][0] == "running" and got["ran"] == ("running", "7_1 (RUNNING)")
    assert got["queued"] == ("pending", "7_0 (PENDING)")
    assert got["ended"] == ("failed", "7_2 (TIMEOUT)")
    fresh_state = next(s for s in states if Path(s.run.directory) == fresh)
    assert fresh_state.state == "pending" and "resumes after epoch 3" in fresh_state.detail
    ended_state = next(s for s in states if Path(s.run.directory) == ended)
    assert ended_state.log == "/logs/7_2_0_log.out"
    assert count_states(states) == {"pending": 3, "running": 2, "finished": 1, "failed": 1,
                                    "diverged": 1, "collapsed": 1}


def test_a_failed_record_without_a_job_is_failed(tmp_path):
    failed = write_record(tmp_path / "res", "nyuv2", "sl", "onelabel", 0,
                          metrics_of(40.0, 0.5, 20.0), status="failed")
    (state,) = grid_states([_run(failed, 0)], scheduler=lambda launches: {})
    assert state.state == "failed"
