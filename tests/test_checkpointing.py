"""Kill-safe checkpoints without training: the save, killed at every step, and the recovery.

A fake runner stands in for mmengine's (its ``save_checkpoint`` writes what the real one writes
through the same file backend), so every instant of a save can be interrupted in milliseconds.
The end-to-end kills of real runs are in ``test_kill_resume.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from killpoints import SimulatedKill
from mmengine.fileio.backends.local_backend import LocalBackend

from bench.engine import checkpoints as ck
from bench.engine.weights_only import load_from_local_weights_only
from bench.errors import BenchError


class FakeRunner:
    """What :func:`bench.engine.checkpoints.save_checkpoint` uses of a Runner."""

    def __init__(self, work: Path) -> None:
        self.work_dir = str(work)
        self.iter = 0
        self.epoch = 0

    def save_checkpoint(self, out_dir: str, filename: str, meta: dict, by_epoch: bool) -> None:
        ckpt = {"meta": dict(meta), "state_dict": {"w": torch.full((4096,), float(meta["epoch"]))},
                "message_hub": {}, "optimizer": {}}
        import io

        buf = io.BytesIO()
        torch.save(ckpt, buf)
        LocalBackend().put(buf.getvalue(), os.path.join(out_dir, filename))


def _save(runner: FakeRunner, epoch: int) -> None:
    runner.iter = epoch * 3
    ck.save_checkpoint(runner, epoch)


def _epoch_of(path: Path) -> int:
    return int(load_from_local_weights_only(str(path))["meta"]["epoch"])


def test_save_keeps_one_complete_checkpoint_and_points_at_it(tmp_path):
    runner = FakeRunner(tmp_path)
    for epoch in (1, 2, 3):
        _save(runner, epoch)
    assert [p.name for p in ck.checkpoints(tmp_path)] == ["epoch_3.pth"]
    assert ck.read_pointer(tmp_path) == tmp_path / "epoch_3.pth"
    assert not list(tmp_path.glob(".*.tmp"))
    assert oct((tmp_path / "last_checkpoint").stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


STEPS = [
    # (what is patched, how the kill happens) — every instant of one save
    ("put-half", None), ("fsync_file", "before"), ("replace", "before"), ("replace", "after"),
    ("fsync_dir", "before"), ("write_pointer-half", None), ("write_pointer", "after"),
    ("unlink", "before"), ("unlink", "after"),
]


@pytest.mark.parametrize("step,when", STEPS)
def test_a_kill_at_any_step_of_a_save_leaves_an_intact_checkpoint(step, when, tmp_path,
                                                                  monkeypatch):
    runner = FakeRunner(tmp_path)
    _save(runner, 1)

    def kill() -> None:
        raise SimulatedKill(f"{step} {when}")

    if step == "put-half":
        def put(self, obj, filepath):
            with open(filepath, "wb") as f:
                f.write(obj[: len(obj) // 2])
            kill()
        monkeypatch.setattr(LocalBackend, "put", put)
    elif step == "write_pointer-half":
        def half_pointer(work, checkpoint):
            (Path(work) / ck.POINTER).write_text(str(checkpoint)[:5])
            kill()
        monkeypatch.setattr(ck, "write_pointer", half_pointer)
    else:
        owner, name = {"fsync_file": (ck, "fsync_file"), "replace": (ck.os, "replace"),
                       "fsync_dir": (ck, "fsync_dir"), "write_pointer": (ck, "write_pointer"),
                       "unlink": (Path, "unlink")}[step]
        original = getattr(owner, name)

        def wrapped(*args, **kwargs):
            if when == "before":
                kill()
            out = original(*args, **kwargs)
            kill()
            return out
        monkeypatch.setattr(owner, name, wrapped)
    with pytest.raises(SimulatedKill):
        _save(runner, 2)
    monkeypatch.undo()

    recovery = ck.recover_checkpoint(tmp_path)
    assert recovery.checkpoint is not None, recovery.notes
    assert ck.verify_checkpoint(recovery.checkpoint) is None
    assert _epoch_of(recovery.checkpoint) in (1, 2)
    assert ck.read_pointer(tmp_path) == recovery.checkpoint
    assert not list(tmp_path.glob(".*.tmp"))
    # and the next save goes on as if nothing happened
    _save(runner, 3)
    assert [p.name for p in ck.checkpoints(tmp_path)] == ["epoch_3.pth"]


def test_recovery_falls_back_to_the_newest_intact_checkpoint(tmp_path):
    runner = FakeRunner(tmp_path)
    for epoch in (1, 2):
        _save(runner, epoch)
        (tmp_path / f"keep_{epoch}.pth").write_bytes((tmp_path / f"epoch_{epoch}.pth").read_bytes())
    (tmp_path / "epoch_1.pth").write_bytes((tmp_path / "keep_1.pth").read_bytes())
    data = (tmp_path / "epoch_2.pth").read_bytes()
    (tmp_path / "epoch_2.pth").write_bytes(data[: len(data) // 3])  # truncated, as by an old kill
    (tmp_path / ".epoch_3.pth.123.abcd.tmp").write_bytes(b"half")
    recovery = ck.recover_checkpoint(tmp_path)
    assert recovery.checkpoint == tmp_path / "epoch_1.pth"
    assert ck.read_pointer(tmp_path) == tmp_path / "epoch_1.pth"
    assert not (tmp_path / "epoch_2.pth").exists() and not list(tmp_path.glob(".*.tmp"))
    text = " ".join(recovery.notes)
    assert "epoch_2.pth" in text and "truncated or corrupt" in text


@pytest.mark.parametrize("pointer", ["", "garbage-not-a-path", "/elsewhere/epoch_2.pth"])
def test_an_empty_or_stale_pointer_is_repaired(pointer, tmp_path):
    runner = FakeRunner(tmp_path)
    _save(runner, 2)
    (tmp_path / ck.POINTER).write_text(pointer)
    recovery = ck.recover_checkpoint(tmp_path)
    assert recovery.checkpoint == tmp_path / "epoch_2.pth"
    assert ck.read_pointer(tmp_path) == tmp_path / "epoch_2.pth"


def test_no_intact_checkpoint_means_a_fresh_start(tmp_path):
    (tmp_path / "epoch_4.pth").write_bytes(b"")
    (tmp_path / ck.POINTER).write_text(str(tmp_path / "epoch_4.pth"))
    recovery = ck.recover_checkpoint(tmp_path)
    assert recovery.checkpoint is None
    assert not (tmp_path / ck.POINTER).exists() and not (tmp_path / "epoch_4.pth").exists()
    assert "starts from the beginning" in " ".join(recovery.notes)


def test_incomplete_checkpoint_is_not_resumed_from(tmp_path):
    torch.save({"meta": {"epoch": 3, "iter": 9}, "state_dict": {}}, tmp_path / "epoch_3.pth")
    assert "no message_hub" in (ck.verify_checkpoint(tmp_path / "epoch_3.pth") or "")
    assert ck.recover_checkpoint(tmp_path).checkpoint is None


def test_loader_hint_tells_truncated_from_foreign_files(tmp_path):
    good = tmp_path / "good.pth"
    torch.save({"a": torch.zeros(1000)}, good)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[:700])
    with pytest.raises(BenchError) as err:
        load_from_local_weights_only(str(truncated))
    assert "truncated or corrupt" in err.value.message
    assert "other Python objects" not in (err.value.hint or "")
    foreign = tmp_path / "foreign.pth"
    torch.save({"a": Path("x")}, foreign)
    with pytest.raises(BenchError) as err:
        load_from_local_weights_only(str(foreign))
    assert "other Python objects" in (err.value.hint or "")
    with pytest.raises(BenchError, match="Checkpoint not found"):
        load_from_local_weights_only(str(tmp_path / "missing.pth"))
