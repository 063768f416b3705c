"""One writer per run: a second ``bench run`` waits for a run another process holds, says so, and
never trains it twice; a lock dies with its process."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from polling import wait_until

from bench.cli import main
from bench.records.locks import RunLock, holder, is_locked
from bench.records.store import RECORD, iter_records

ROOT = Path(__file__).resolve().parents[1]


class Output:
    """The merged output of a process, collected line by line by a thread."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def join(self) -> str:
        self._thread.join(timeout=60)
        return self.text


def _args(nyuv2_root: Path, results: Path, seeds: str = "0", jobs: str = "1") -> list[str]:
    return ["run", "--methods", "sl", "--dataset", "nyuv2", "--regimes", "onelabel", "--seeds",
            seeds, "--profile", "smoke", "--jobs", jobs, "--no-table",
            "--data-root", str(nyuv2_root), "--results", str(results)]


def _bench(args: list[str], script: str = "-m bench", env: dict | None = None
           ) -> tuple[subprocess.Popen, Output]:
    cmd = [sys.executable, *script.split(), *args]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1",
                                                 **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, Output(proc)


def test_lock_is_exclusive_and_released_on_exit(tmp_path):
    first = RunLock(tmp_path / "run")
    assert first.acquire()
    assert is_locked(tmp_path / "run")
    assert not RunLock(tmp_path / "run").acquire(blocking=False)
    assert f"pid {os.getpid()}" in holder(tmp_path / "run")
    first.release()
    assert not is_locked(tmp_path / "run")
    # a holder killed with SIGKILL releases it too (the OS closes its files)
    code = ("import sys, signal; sys.path.insert(0, sys.argv[1]); from bench.records.locks import RunLock;"
            "RunLock(sys.argv[2]).acquire(); print('held', flush=True); signal.pause()")
    proc = subprocess.Popen([sys.executable, "-c", code, str(ROOT), str(tmp_path / "run")],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    assert is_locked(tmp_path / "run")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert RunLock(tmp_path / "run").acquire(blocking=False)


@pytest.mark.slow
def test_a_run_held_by_another_process_is_waited_for_and_not_trained_again(nyuv2_root,
                                                                            tmp_path):
    ref = tmp_path / "ref"
    assert main(_args(nyuv2_root, ref)) == 0
    done = next(iter_records(ref))
    results = tmp_path / "res"
    run = results / Path(done.path).relative_to(ref)
    shutil.copytree(done.path, run)
    finished = tmp_path / "finished-record.json"
    (run / RECORD).replace(finished)  # the other process has not finished it yet
    lock = RunLock(run)
    assert lock.acquire()
    proc, out = _bench(_args(nyuv2_root, results, seeds="0,1", jobs="2"))
    wait_until(lambda: "waiting for it to finish" in out.text, 300,
               f"bench run to wait for the held run; output so far:\n{out.text}")
    assert f"pid {os.getpid()}" in out.text
    finished.replace(run / RECORD)  # the other process finishes and lets go
    lock.release()
    assert proc.wait(timeout=300) == 0, out.join()
    text = out.join()
    assert "finished by another bench process (ok)" in text
    assert "Runs: 1 ok, 1 skipped" in text
    assert (run / RECORD).read_text() == Path(done.path, RECORD).read_text()  # not redone


@pytest.mark.slow
def test_two_bench_processes_one_killed_the_other_takes_over(nyuv2_root, tmp_path):
    assert main(_args(nyuv2_root, tmp_path / "ref")) == 0
    ref = next(iter_records(tmp_path / "ref"))
    results, marker = tmp_path / "res", tmp_path / "marker"
    first, first_out = _bench(_args(nyuv2_root, results), "tests/killable_bench.py",
                              {"BENCH_TEST_STOP_AT_SAVE": "2", "BENCH_TEST_MARKER": str(marker)})
    wait_until(marker.exists, 300, "the first process to stop inside its second save")
    second, second_out = _bench(_args(nyuv2_root, results))
    wait_until(lambda: "waiting for it to finish" in second_out.text, 300,
               f"the second process to wait; output so far:\n{second_out.text}")
    assert f"pid {first.pid}" in second_out.text
    first.send_signal(signal.SIGKILL)  # the OS releases its lock
    first.wait(timeout=60)
    assert second.wait(timeout=300) == 0, second_out.join()
    records = list(iter_records(results))
    assert len(records) == 1
    rec = records[0]
    assert rec.status == "ok" and rec.metrics == ref.metrics and rec.history == ref.history
    assert rec.timing["resumed"] == 1  # the second process continued the first one's work
