"""``python tests/killable_bench.py ARGS…``: ``bench ARGS…`` whose N-th checkpoint write stops
half-way and blocks, so a test can SIGKILL the process exactly inside a save.

``BENCH_TEST_STOP_AT_SAVE=N`` picks the write; when the process reaches it, it writes half of
the checkpoint's bytes, writes the file's path to ``BENCH_TEST_MARKER`` and waits for a signal.
Used only by the tests (real kills of real processes, see ``test_kill_resume.py``).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from mmengine.fileio.backends.local_backend import LocalBackend

STOP_AT = int(os.environ["BENCH_TEST_STOP_AT_SAVE"])
MARKER = Path(os.environ["BENCH_TEST_MARKER"])
_original_put = LocalBackend.put
_calls = [0]


def _put(self: LocalBackend, obj: bytes, filepath: str) -> None:
    _calls[0] += 1
    if _calls[0] != STOP_AT:
        _original_put(self, obj, filepath)
        return
    with open(filepath, "wb") as f:
        f.write(obj[: len(obj) // 2])
        f.flush()
        os.fsync(f.fileno())
    MARKER.write_text(str(filepath))
    while True:  # until killed
        signal.pause()


LocalBackend.put = _put

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.cli import main

    sys.exit(main(sys.argv[1:]))
