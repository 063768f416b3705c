"""Kill-safe training checkpoints: a run killed at any instant resumes from an intact one.

mmengine 0.10.7's ``CheckpointHook`` deletes the previous checkpoint *before* it writes the new
one, writes the new one in place and rewrites ``last_checkpoint`` in place: a kill in that window
leaves no usable checkpoint, or a pointer to a truncated file. The harness replaces it:

* :class:`KillSafeCheckpointHook` writes ``epoch_N.pth`` to a temporary name, ``fsync`` s it and
  renames it into place (so a file named ``epoch_N.pth`` is always complete), then replaces the
  ``last_checkpoint`` pointer atomically, and only then deletes the older checkpoints;
* :func:`recover_checkpoint`, called before a run's Runner is built, clears the temporary files
  of interrupted writes and picks the newest checkpoint that loads (weights-only) and holds what a
  resume needs; files that do not (truncated by a kill under an older harness, damaged on disk)
  are removed, the pointer is rewritten to the one chosen, and with none left the run starts
  afresh. Nothing is left for a human to clean up.

The run's state (its per-epoch history, see :class:`bench.engine.hooks.RunStateHook`) travels
inside every checkpoint, so a resume always continues from a consistent pair of weights and
history.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmengine.hooks import Hook

from bench.engine.weights_only import describe_load_error, load_weights_only
from bench.records.atomic import atomic_write_text, fsync_dir, fsync_file, remove_stale_temps, temp_name

POINTER = "last_checkpoint"
_NAME = re.compile(r"^epoch_(\d+)\.pth$")
#: what a checkpoint must hold for the Runner to resume from it
REQUIRED = ("meta", "state_dict", "message_hub")


def checkpoint_name(epoch: int) -> str:
    """File name of the checkpoint written after ``epoch`` epochs."""
    return f"epoch_{int(epoch)}.pth"


def checkpoint_epoch(path: Path) -> int | None:
    """The epoch of a checkpoint file name (``epoch_3.pth`` → 3); ``None`` for other names."""
    m = _NAME.match(Path(path).name)
    return int(m.group(1)) if m else None


def checkpoints(work: Path) -> list[Path]:
    """The checkpoint files in ``work``, newest epoch first."""
    found = [p for p in Path(work).glob("epoch_*.pth") if checkpoint_epoch(p) is not None]
    return sorted(found, key=lambda p: checkpoint_epoch(p) or 0, reverse=True)


def write_pointer(work: Path, checkpoint: Path) -> None:
    """Point ``work/last_checkpoint`` at ``checkpoint`` (atomically)."""
    atomic_write_text(Path(work) / POINTER, str(checkpoint))


def read_pointer(work: Path) -> Path | None:
    """The checkpoint ``last_checkpoint`` names, looked up in ``work`` when its recorded path no
    longer exists (a moved results folder); ``None`` when there is no usable pointer."""
    try:
        text = (Path(work) / POINTER).read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not text:
        return None
    path = Path(text)
    return path if path.is_file() else Path(work) / path.name


def verify_checkpoint(path: Path) -> str | None:
    """What makes ``path`` unusable for a resume, or ``None`` if it loads and is complete."""
    try:
        ckpt = load_weights_only(str(path), map_location="cpu")
    except FileNotFoundError:
        return "it does not exist"
    except Exception as exc:  # noqa: BLE001 - corrupt files fail in many ways
        return describe_load_error(exc)
    if not isinstance(ckpt, dict):
        return f"it holds a {type(ckpt).__name__}, not a checkpoint"
    missing = [k for k in REQUIRED if k not in ckpt]
    if missing:
        return f"it is incomplete (no {', '.join(missing)})"
    meta = ckpt["meta"]
    if not isinstance(meta, dict) or not all(isinstance(meta.get(k), int) for k in ("epoch", "iter")):
        return "its meta data has no epoch / iteration"
    return None


@dataclass
class Recovery:
    """What :func:`recover_checkpoint` found: the checkpoint to resume from and what it did."""

    checkpoint: Path | None
    notes: list[str] = field(default_factory=list)


def recover_checkpoint(work: Path) -> Recovery:
    """Choose the checkpoint a run resumes from, repairing ``work`` on the way.

    Call it while holding the run's lock (nobody else writes there). See the module docstring.
    """
    work = Path(work)
    out = Recovery(None)
    if not work.is_dir():
        return out
    for tmp in remove_stale_temps(work):
        out.notes.append(f"removed {tmp.name}, left by an interrupted write")
    pointed = read_pointer(work)
    for path in checkpoints(work):
        problem = verify_checkpoint(path)
        if problem is None:
            out.checkpoint = path
            break
        path.unlink(missing_ok=True)
        out.notes.append(f"removed checkpoint {path.name}: {problem}")
    if out.checkpoint is None:
        if (work / POINTER).exists():
            (work / POINTER).unlink()
            out.notes.append(f"{POINTER} named no intact checkpoint: the run starts from the "
                             "beginning")
        return out
    if pointed is None or pointed.resolve() != out.checkpoint.resolve():
        write_pointer(work, out.checkpoint)
        if pointed is not None:
            out.notes.append(f"{POINTER} named {pointed.name}; resuming from "
                             f"{out.checkpoint.name}, the newest intact checkpoint")
    return out


def save_checkpoint(runner: Any, epoch: int, keep: int = 1) -> Path:
    """Write the checkpoint of ``epoch`` kill-safely; keep the ``keep`` newest (≥ 1)."""
    work = Path(runner.work_dir)
    final = work / checkpoint_name(epoch)
    tmp = temp_name(final)
    try:
        runner.save_checkpoint(str(work), tmp.name, meta={"epoch": int(epoch),
                                                         "iter": int(runner.iter)},
                               by_epoch=True)
        fsync_file(tmp)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(work)
    write_pointer(work, final)
    for old in checkpoints(work)[max(1, keep):]:
        old.unlink(missing_ok=True)
    return final


class KillSafeCheckpointHook(Hook):
    """Saves a checkpoint every ``interval`` epochs and after the last one (see the module
    docstring); replaces mmengine's ``CheckpointHook``."""

    priority = "VERY_LOW"

    def __init__(self, interval: int = 1, keep: int = 1) -> None:
        self.interval = max(1, int(interval))
        self.keep = max(1, int(keep))

    def after_train_epoch(self, runner: Any) -> None:
        epoch = int(runner.epoch) + 1
        if epoch % self.interval == 0 or epoch == int(runner.max_epochs):
            save_checkpoint(runner, epoch, self.keep)
