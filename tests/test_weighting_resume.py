"""A run with a stateful weighting, killed and rerun, ends exactly like an uninterrupted one."""

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
from bench.store import iter_records

ROOT = Path(__file__).resolve().parents[1]


def _cli(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "bench", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow
@pytest.mark.parametrize("row", ["sl+dwa", "sl+gradnorm"])
def test_killed_run_with_stateful_weighting_resumes_exactly(row, nyuv2_root, tmp_path):
    args = ["run", "--methods", row, "--dataset", "nyuv2", "--regimes", "full", "--seeds", "1",
            "--profile", "smoke", "--jobs", "1", "--set", "train.epochs=5", "--no-table",
            "--data-root", str(nyuv2_root)]
    assert main([*args, "--results", str(tmp_path / "ref")]) == 0
    ref = next(iter(iter_records(tmp_path / "ref")))
    weights = [h["train"]["w_semantic"] for h in ref.history]
    assert len(set(weights)) > 1  # the weighting's state changed the weights during the run

    results = tmp_path / "killed"
    proc = _cli([*args, "--results", str(results)])
    wait_until(lambda: list(results.rglob("epoch_2.pth")), 300, "the epoch-2 checkpoint")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=120)
    assert not list(iter_records(results))
    proc = _cli([*args, "--results", str(results)])
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    rec = next(iter(iter_records(results)))
    assert rec.timing["resumed"] == 1
    assert rec.metrics == ref.metrics
    assert json.dumps([h["train"] for h in rec.history]) == json.dumps(
        [h["train"] for h in ref.history])
