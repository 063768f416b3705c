"""A run killed at any instant, then run again, ends with the uninterrupted run's record.

* ``test_random_kills_resume_to_the_uninterrupted_result``: 20 kills on the smoke profile, at
  every instant of the first checkpoint save (the save stopped half-way included), at a random
  training step, validation, final test, figure-data write, just before and just after the
  record write, and at random other instants (``BENCH_KILL_SEED`` draws other ones).
* ``test_sigkill_inside_a_checkpoint_write``: real SIGKILLs of a process stopped half-way
  through writing its first and its second checkpoint.
* ``test_kill_during_validation_keeps_the_epochs_training_losses``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from killpoints import KillSwitch, SimulatedKill, install
from polling import wait_until

from bench.cli import main
from bench.records.locks import is_locked
from bench.records.store import iter_records

ROOT = Path(__file__).resolve().parents[1]
KILLS = 20


def _args(nyuv2_root: Path, results: Path, *extra: str) -> list[str]:
    return ["run", "--methods", "sl", "--dataset", "nyuv2", "--regimes", "randomlabels",
            "--seeds", "1", "--profile", "smoke", "--jobs", "1", "--no-table",
            "--data-root", str(nyuv2_root), "--results", str(results), *extra]


def _record(results: Path):
    records = list(iter_records(results))
    assert len(records) == 1, records
    return records[0]


def assert_same_result(rec, ref) -> None:
    assert rec.status == "ok" and rec.metrics == ref.metrics
    assert rec.history == ref.history  # every epoch, with its training losses and metrics
    assert rec.val_metrics == ref.val_metrics and rec.selection == ref.selection


def assert_nothing_left(results: Path) -> None:
    """The run folder holds what a finished run holds, nothing for a human to clean up."""
    run = Path(_record(results).path)
    assert not list(results.rglob("*.tmp")), list(results.rglob("*.tmp"))
    assert not list((run / "work").glob("*.pth")) and not (run / "work" / "last_checkpoint").exists()
    assert not list(run.glob("record.unreadable-*"))
    assert {p.name for p in run.iterdir()} == {"record.json", "model_final.pth", "visuals.npz",
                                               "run.lock", "work"}
    assert not is_locked(run)


@pytest.mark.slow
def test_random_kills_resume_to_the_uninterrupted_result(nyuv2_root, tmp_path, monkeypatch):
    switch = KillSwitch()
    install(monkeypatch, switch)
    assert main(_args(nyuv2_root, tmp_path / "ref")) == 0
    ref = _record(tmp_path / "ref")
    log = list(switch.log)
    # every instant of the first save: the write (stopped half-way), fsync, rename, pointer
    start, end = log.index("save:put") + 1, log.index("save:pointer:after") + 1
    first_save = list(range(start, end + 1))
    assert len(first_save) >= 6 and "rename:before" in log[start:end], log
    rng = random.Random(int(os.environ.get("BENCH_KILL_SEED", "10")))
    # one random instant of every other kind, then random instants of any kind
    forced = list(first_save)
    for kind in ("train-step:before", "evaluate:before", "test:before", "visuals:before",
                 "record:before", "record:after"):
        forced.append(rng.choice([i for i, w in enumerate(log, 1) if w == kind
                                  and i not in first_save]))
    rest = [i for i in range(1, len(log) + 1) if i not in forced]
    points = forced + sorted(rng.sample(rest, KILLS - len(forced)))
    assert len(set(points)) == KILLS
    for n, at in enumerate(points):
        results = tmp_path / f"kill{n}"
        switch.reset(at)
        with pytest.raises(SimulatedKill):
            main(_args(nyuv2_root, results))
        where = switch.log[-1]
        switch.reset(None)
        assert main(_args(nyuv2_root, results)) == 0, where
        rec = _record(results)
        assert_same_result(rec, ref)
        assert_nothing_left(results)


def _killable(args: list[str], stop_at: int, marker: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "BENCH_TEST_STOP_AT_SAVE": str(stop_at),
           "BENCH_TEST_MARKER": str(marker)}
    return subprocess.Popen([sys.executable, str(ROOT / "tests" / "killable_bench.py"), *args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


@pytest.mark.slow
@pytest.mark.parametrize("stop_at", [1, 2])
def test_sigkill_inside_a_checkpoint_write(stop_at, nyuv2_root, tmp_path):
    assert main(_args(nyuv2_root, tmp_path / "ref")) == 0
    ref = _record(tmp_path / "ref")
    results, marker = tmp_path / "killed", tmp_path / "marker"
    proc = _killable(_args(nyuv2_root, results), stop_at, marker)
    wait_until(marker.exists, 180, "the checkpoint write to stop half-way")
    half = Path(marker.read_text())
    assert half.is_file() and half.name.endswith(".tmp")  # the new checkpoint, half written
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    work = half.parent
    if stop_at == 2:  # the previous checkpoint survived the kill inside the next save
        assert (work / "epoch_1.pth").is_file()
    assert main(_args(nyuv2_root, results)) == 0
    rec = _record(results)
    assert_same_result(rec, ref)
    assert rec.timing["resumed"] == (1 if stop_at == 2 else 0)
    assert_nothing_left(results)


@pytest.mark.slow
def test_kill_during_validation_keeps_the_epochs_training_losses(nyuv2_root, tmp_path,
                                                                 monkeypatch):
    switch = KillSwitch()
    install(monkeypatch, switch)
    assert main(_args(nyuv2_root, tmp_path / "ref", "--set", "train.epochs=3")) == 0
    ref = _record(tmp_path / "ref")
    validations = [i + 1 for i, w in enumerate(switch.log) if w == "evaluate:before"]
    assert len(validations) == 3
    results = tmp_path / "killed"
    switch.reset(validations[1])  # inside epoch 2's validation, after its training
    with pytest.raises(SimulatedKill):
        main(_args(nyuv2_root, results, "--set", "train.epochs=3"))
    switch.reset(None)
    assert main(_args(nyuv2_root, results, "--set", "train.epochs=3")) == 0
    rec = _record(results)
    assert rec.timing["resumed"] == 1
    assert [sorted(h["train"]) for h in rec.history] == [sorted(h["train"]) for h in ref.history]
    assert all(h["train"] for h in rec.history)
    assert_same_result(rec, ref)


@pytest.mark.slow
@pytest.mark.parametrize("state", ["", "{trunc", "null"])
def test_an_empty_or_corrupt_run_state_does_not_stop_the_resume(state, nyuv2_root, tmp_path,
                                                                monkeypatch):
    switch = KillSwitch()
    install(monkeypatch, switch)
    assert main(_args(nyuv2_root, tmp_path / "ref")) == 0
    ref = _record(tmp_path / "ref")
    after_first_checkpoint = switch.log.index("save:pointer:after") + 1
    results = tmp_path / "killed"
    switch.reset(after_first_checkpoint)
    with pytest.raises(SimulatedKill):
        main(_args(nyuv2_root, results))
    switch.reset(None)
    (state_file,) = results.rglob("bench_state.json")
    state_file.write_text(state)
    assert main(_args(nyuv2_root, results)) == 0  # the history comes from the checkpoint
    rec = _record(results)
    assert rec.timing["resumed"] == 1
    assert_same_result(rec, ref)
