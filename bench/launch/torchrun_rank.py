"""One process of a run that :mod:`bench.launch.torchrun` launched: ``python -m
bench.launch.torchrun_rank JOB`` (torchrun starts N of them).

Each joins the process group, runs :func:`bench.engine.execute.run_rank` and reports an error that
ends it to the launching ``bench run`` over its authenticated connection. It exits when the
launcher disappears: the launcher never sends, so its connection becoming readable is its
closed end (checked every :data:`~bench.launch.torchrun.WATCH_INTERVAL_S` seconds).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from multiprocessing.connection import Client
from pathlib import Path
from typing import Any

from bench.config.runspec import RunSpec
from bench.engine.progress import NullSink, ProgressSink
from bench.launch.orphan import exit_when
from bench.launch.progress import ConnectionSink
from bench.launch.torchrun import WATCH_INTERVAL_S


def launcher_gone(conn: Any) -> bool:
    """Whether the ``bench run`` that launched this process is gone: it never sends, so its
    connection can only become readable by closing."""
    try:
        return bool(conn.poll(0))
    except (OSError, EOFError, ValueError):
        return True


def _report(conn: Any, process: int, error: dict[str, Any]) -> None:
    """Tell the launcher the error that ends this process, and when."""
    try:
        conn.send(("error", process, {**error, "time": time.time()}))
    except (OSError, EOFError):
        pass


def main(argv: list[str] | None = None) -> int:
    """One process of a run launched by :func:`run_distributed` (``JOB`` file as argument)."""
    import torch.distributed as dist

    from bench.engine.distributed import init_from_torchrun, is_main, rank
    from bench.engine.execute import run_rank

    args = sys.argv[1:] if argv is None else argv
    job = json.loads(Path(args[0]).read_text())
    conn = Client(tuple(job["address"]), authkey=bytes.fromhex(job["authkey"]))
    stopping = threading.Event()
    # exit when the launching bench run is gone (it holds the run's lock)
    exit_when(lambda: launcher_gone(conn), WATCH_INTERVAL_S, stopping)
    code = 0
    try:
        init_from_torchrun()
        sink: ProgressSink = ConnectionSink(conn) if is_main() else NullSink()
        record = run_rank(RunSpec.from_dict(job["spec"]), job["config"],
                          Path(job["directory"]), sink, launcher_gone=lambda: launcher_gone(conn))
        if record is not None and not record.finished:
            # rank 0 failed and wrote so: end the others, which may wait for it
            _report(conn, 0, {**(record.error or {}), "type": (record.error or {}).get(
                "type", "Error"), "message": (record.error or {}).get("message", "")})
            code = 1
    except KeyboardInterrupt:
        code = 130
    except BaseException as exc:  # noqa: BLE001 - reported to the launcher, which records it
        _report(conn, rank(), {"type": type(exc).__name__, "message": str(exc),
                               "traceback": traceback.format_exc()})
        traceback.print_exc()
        code = 1
    stopping.set()
    conn.close()
    if code:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # without the process group's teardown: the others may wait for us
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
