"""The ``torchrun`` launcher: one run over several processes (``bench run --nproc N``).

The ``bench run`` process claims the run as usual (:func:`bench.launch.claim.run_claimed`) and,
instead of training it itself, starts ``python -m torch.distributed.run --standalone
--nproc-per-node N -m bench.launch.torchrun_rank JOB`` and waits for it. Each of the N processes joins
the process group (:func:`bench.engine.distributed.init_from_torchrun`: gloo on the CPU, nccl
and one GPU per process with CUDA) and runs :func:`bench.engine.execute.run_rank`: the global
batch ``train.batch_size`` split into one shard per process, gradients averaged, batch norm over
the global batch, the evaluation splits shared out. Rank 0 writes everything the run leaves
(checkpoints, state, log, weights, record) exactly where one process would; the others write
nothing into the results folder. A killed run resumes from rank 0's checkpoint in every
process. The run's identity does not depend on N (its numbers equal one process's up to float
rounding; see :mod:`bench.engine.distributed` for the terms that draw per process); the
record's ``environment`` says ``world_size`` and ``dist_backend``.

Rank 0 sends its progress to the launching process over a local authenticated connection;
every rank reports an exception that ends it there before it exits. torchrun's own output and
the processes' stdout/stderr go to ``RUN/work/torchrun.log``. When the processes end without
rank 0's record (a rank crashed or was killed), the launching process writes a ``failed`` record
naming the error, so the run is retried, from its last checkpoint, by the next ``bench run``.
The processes exit when the launching process disappears: it never sends on its connections,
so a connection that becomes readable is its closed end (the kernel closes it the instant the
process dies, zombie or not). Checked every quarter second, and once more before rank 0 would
write a ``failed`` record: killed with the launcher, the ranks notice at different instants,
and the collective error of the one still running must not be recorded as the run's failure.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from multiprocessing.connection import Client, Listener
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.config.runspec import RunSpec
from bench.engine.progress import ProgressSink
from bench.errors import BenchError
from bench.launch.base import LaunchContext, Launcher
from bench.launch.local import execute
from bench.launch.progress import RichGridProgress, replay
from bench.records.record import Record, RecordError
from bench.records.store import read_record, write_record
from bench.registry import register_launcher

if TYPE_CHECKING:
    from bench.grid.plan import PlannedRun

#: torchrun's output and the processes' stdout/stderr, beside rank 0's log
TORCHRUN_LOG = "torchrun.log"
#: seconds the processes get to stop after an interrupt before they are killed
STOP_GRACE_S = 60.0
#: seconds between a process's checks that the launching ``bench run`` is still there
WATCH_INTERVAL_S = 0.25


def torchrun_command(nproc: int, job: Path) -> list[str]:
    """The command line that starts the ``nproc`` processes of one run."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc-per-node={int(nproc)}", "-m", "bench.launch.torchrun_rank", str(job)]


def _child_env() -> dict[str, str]:
    """The environment of the processes: this one's, with this harness first on the path (the
    processes import the same ``bench`` as the process that launches them)."""
    env = dict(os.environ)
    here = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([here, *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("OMP_NUM_THREADS", "1")  # what torchrun sets anyway, without its warning
    return env


class _Events:
    """Accepts the processes' connections and replays their events into ``sink`` (threads);
    keeps the errors they report."""

    def __init__(self, sink: ProgressSink) -> None:
        self.sink = sink
        self.authkey = os.urandom(32)
        self.listener = Listener(("127.0.0.1", 0), authkey=self.authkey)
        self.errors: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._readers: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    @property
    def address(self) -> tuple[str, int]:
        return tuple(self.listener.address)  # type: ignore[return-value]

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn = self.listener.accept()
            except (OSError, EOFError):
                if self._stop.is_set():
                    return
                continue  # a client that failed the handshake
            if self._stop.is_set():
                conn.close()
                return
            reader = threading.Thread(target=self._read, args=(conn,), daemon=True)
            reader.start()
            self._readers.append(reader)

    def _read(self, conn: Any) -> None:
        with conn:
            while True:
                try:
                    event = conn.recv()
                except (EOFError, OSError):
                    return
                if event and event[0] == "error":
                    self.errors.append(dict(event[2], rank=event[1]))
                else:
                    replay(event, self.sink)

    def close(self) -> None:
        self._stop.set()
        try:  # wake the acceptor
            Client(self.address, authkey=self.authkey).close()
        except OSError:
            pass
        self._acceptor.join(timeout=5)
        self.listener.close()
        for reader in self._readers:
            reader.join(timeout=5)


def run_distributed(spec: RunSpec, config: dict[str, Any], directory: Path,
                    sink: ProgressSink, nproc: int) -> Record:
    """Train the run in ``directory`` over ``nproc`` processes (module docstring); its record.

    The caller holds the run's lock. An interrupt (``KeyboardInterrupt``) is passed on to the
    processes, which keep their last checkpoint, and raised again once they have stopped.
    """
    directory = Path(directory)
    work = directory / "work"
    work.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    wall0 = time.perf_counter()
    events = _Events(sink)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-ddp-") as tmp:
            job = Path(tmp) / "job.json"
            job.touch(mode=0o600)
            job.write_text(json.dumps({
                "spec": spec.to_dict(), "config": config, "directory": str(directory),
                "address": list(events.address), "authkey": events.authkey.hex()}))
            with open(work / TORCHRUN_LOG, "a") as log:
                log.write(f"\n=== {started} {spec.label()}: {nproc} processes ===\n")
                log.flush()
                proc = subprocess.Popen(torchrun_command(nproc, job), stdout=log,
                                        stderr=subprocess.STDOUT, env=_child_env())
                try:
                    code = proc.wait()
                except BaseException:
                    _stop(proc)
                    raise
    finally:
        events.close()
    record = _fresh_record(directory, started)
    if record is None:
        return _failed_record(spec, config, directory, started, wall0, nproc, code,
                              events.errors)
    first = _first_error(events.errors)
    if record.status == "failed" and first is not None and first["rank"] != 0:
        # rank 0's error followed another rank's (e.g. gloo's "Connection reset by peer")
        record.error = {**_error_of(first, nproc, directory),
                        "rank0": (record.error or {}).get("message", "")}
        write_record(directory, record)
    return record


def _first_error(errors: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The error the processes reported first: the cause; later ones follow from it."""
    return min(errors, key=lambda e: (e.get("time", 0.0), e["rank"])) if errors else None


def _error_of(report: dict[str, Any], nproc: int, directory: Path) -> dict[str, Any]:
    return {"type": report["type"], "message": f"rank {report['rank']} of {nproc}: "
            f"{report['message']}", "traceback": report.get("traceback", ""),
            "log": str(directory / "work" / TORCHRUN_LOG)}


def _stop(proc: subprocess.Popen) -> None:
    """Interrupt torchrun (it passes the signal on to the processes), then kill it if need be."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _fresh_record(directory: Path, started: str) -> Record | None:
    """The run's record if rank 0 wrote it in this launch (not an earlier attempt's)."""
    try:
        record = read_record(directory)
    except RecordError:
        return None
    return record if record is not None and record.started_at >= started else None


def _failed_record(spec: RunSpec, config: dict[str, Any], directory: Path, started: str,
                   wall0: float, nproc: int, code: int, errors: list[dict[str, Any]]) -> Record:
    """The ``failed`` record of a launch whose processes ended without one (written here)."""
    import torch

    from bench.engine.environment import environment
    from bench.engine.execute import new_record

    record = new_record(spec, config, started)
    log = directory / "work" / TORCHRUN_LOG
    first = _first_error(errors)
    if first is not None:
        record.error = _error_of(first, nproc, directory)
    else:
        record.error = {"type": "ProcessExit",
                        "message": f"the {nproc} processes ended with exit code {code} and no "
                                   f"record; see {log}", "log": str(log),
                        "log_tail": _tail(log)}
    state = directory / "work" / "bench_state.json"
    try:
        saved = json.loads(state.read_text())
        record.history = list(saved.get("history") or [])
    except (OSError, ValueError, AttributeError):
        pass
    record.timing = {"wall_time_s": time.perf_counter() - wall0}
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    record.environment = {**environment(device), "world_size": int(nproc),
                          "dist_backend": "nccl" if device.type == "cuda" else "gloo"}
    record.finished_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    write_record(directory, record)
    return record


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@register_launcher("torchrun")
class TorchrunLauncher(Launcher):
    """Each run over ``nproc`` processes of this node (data parallel), one run at a time."""

    @dataclass(frozen=True)
    class Options(Launcher.Options):
        #: processes per run (``--nproc N``)
        nproc: int = 2

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        nproc = self.nproc = int(self.options.nproc)
        if nproc < 1:
            raise BenchError(f"--nproc must be at least 1, got {nproc}.")
        import torch
        import torch.distributed as dist

        if not dist.is_available():
            raise BenchError("--nproc needs torch.distributed, which this torch build lacks.")
        if torch.cuda.is_available() and nproc > torch.cuda.device_count():
            raise BenchError(f"--nproc {nproc} needs one GPU per process; "
                             f"{torch.cuda.device_count()} visible.",
                             "Give at most that many processes (or set CUDA_VISIBLE_DEVICES).")

    def describe(self) -> str:
        return f"{self.nproc} processes per run (torchrun)"

    def check(self, runs: Sequence[PlannedRun]) -> None:
        """Every pending run's global batch splits into ``nproc`` shards."""
        from bench.engine.build import check_shards, training_split

        for run in runs:
            if not run.finished:
                check_shards(run.config, len(training_split(run.config).train), self.nproc)

    def launch(self, runs: Sequence[PlannedRun], context: LaunchContext) -> dict[str, int]:
        def train(spec: RunSpec, config: dict[str, Any], directory: Path,
                  sink: ProgressSink) -> Record:
            return run_distributed(spec, config, directory, sink, self.nproc)

        with RichGridProgress(len(runs), console=context.console, title=context.title) as progress:
            return execute(runs, jobs=1, progress=progress, train=train)
