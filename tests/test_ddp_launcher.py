"""The processes of a ``--nproc`` run and the ``bench run`` that launched them: they notice it is
gone from its closed connection (also while it is an unreaped zombie), and rank 0 then writes no
``failed`` record for the collective error its killed peer causes."""

from __future__ import annotations

import signal
import subprocess
import sys
from multiprocessing.connection import Client

import pytest
from polling import wait_until, zombie

import bench.engine.execute as execute
from bench.config.profiles import parse_overrides
from bench.config.runspec import RunSpec, resolve
from bench.launch.torchrun_rank import launcher_gone
from bench.records.store import read_record
from bench.registry import get_dataset

LAUNCHER = """
import sys
from multiprocessing.connection import Listener
listener = Listener(("127.0.0.1", 0), authkey=b"k")
print(listener.address[1], flush=True)
conn = listener.accept()
sys.stdin.read()  # until the test kills it
"""


def test_a_killed_launcher_is_seen_gone_while_it_is_still_an_unreapedzombie():
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
    try:
        port = int(launcher.stdout.readline())
        conn = Client(("127.0.0.1", port), authkey=b"k")
        assert not launcher_gone(conn)
        launcher.send_signal(signal.SIGKILL)
        wait_until(lambda: zombie(launcher.pid), 10, "the launcher to become a zombie")
        wait_until(lambda: launcher_gone(conn), 5, "the closed connection")  # not reaped yet
        assert zombie(launcher.pid)
        conn.close()
        assert launcher_gone(conn)  # a closed handle counts as gone, without an error
    finally:
        launcher.kill()
        launcher.wait()


@pytest.mark.parametrize("gone", [False, True])
def test_rank_0_records_a_crash_only_while_its_launcher_is_there(gone, nyuv2_root, tmp_path,
                                                                 monkeypatch):
    layout = get_dataset("nyuv2").check_layout(nyuv2_root / "nyuv2")
    spec = RunSpec("sl", "nyuv2", "onelabel", 0, "smoke", tuple(parse_overrides([])))
    config = resolve(spec, layout)

    def collective_fails(*args, **kwargs):
        raise RuntimeError("Connection closed by peer")  # gloo's error when a peer is killed

    monkeypatch.setattr(execute, "build_optimisation", collective_fails)
    run = tmp_path / "run"
    run.mkdir()
    if gone:
        with pytest.raises(RuntimeError, match="closed by peer"):
            execute.run_rank(spec, config, run, launcher_gone=lambda: True)
        assert read_record(run) is None  # killed, not failed: the next bench run resumes it
    else:
        record = execute.run_rank(spec, config, run, launcher_gone=lambda: False)
        assert record.status == "failed" and record.error["message"] == "Connection closed by peer"
        assert read_record(run).status == "failed"
