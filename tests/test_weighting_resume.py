"""A run with a stateful weighting, SIGKILLed and rerun, ends exactly like an uninterrupted one.

The kill is real (``tests/killable_bench.py``): the process stops half-way through writing its
third checkpoint and is SIGKILLed there, so the rerun resumes through the kill-safe checkpoint
path (:mod:`bench.engine.checkpoints`) from the checkpoint after epoch 2, and the weighting's
state (DWA's loss history, GradNorm's weights and Adam moments) must come back from it: without
it, DWA would restart at weights 1 and GradNorm at its initial losses, and the history differs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from polling import wait_until

from bench.cli import main
from bench.records.store import iter_records

ROOT = Path(__file__).resolve().parents[1]


def _args(row: str, nyuv2_root: Path, results: Path) -> list[str]:
    return ["run", "--methods", row, "--dataset", "nyuv2", "--regimes", "randomlabels",
            "--seeds", "1", "--profile", "smoke", "--jobs", "1", "--set", "train.epochs=5",
            "--no-table", "--data-root", str(nyuv2_root), "--results", str(results)]


def _record(results: Path):
    records = list(iter_records(results))
    assert len(records) == 1, records
    return records[0]


def _killable(args: list[str], stop_at: int, marker: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "BENCH_TEST_STOP_AT_SAVE": str(stop_at),
           "BENCH_TEST_MARKER": str(marker)}
    return subprocess.Popen([sys.executable, str(ROOT / "tests" / "killable_bench.py"), *args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


@pytest.mark.slow
@pytest.mark.parametrize("row", ["sl+dwa", "sl+gradnorm"])
def test_killed_run_with_stateful_weighting_resumes_exactly(row, nyuv2_root, tmp_path):
    assert main(_args(row, nyuv2_root, tmp_path / "ref")) == 0
    ref = _record(tmp_path / "ref")
    weights = [h["train"]["w_semantic"] for h in ref.history]
    assert len(set(weights)) > 1  # the weighting's state changed the weights during the run

    results, marker = tmp_path / "killed", tmp_path / "marker"
    proc = _killable(_args(row, nyuv2_root, results), 3, marker)
    wait_until(marker.exists, 300, "the third checkpoint write to stop half-way")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    work = Path(marker.read_text()).parent
    assert (work / "epoch_2.pth").is_file() and not list(iter_records(results))

    assert main(_args(row, nyuv2_root, results)) == 0
    rec = _record(results)
    assert rec.timing["resumed"] == 1
    assert rec.status == "ok" and rec.metrics == ref.metrics
    assert json.dumps(rec.history) == json.dumps(ref.history)  # every epoch's weights and losses
