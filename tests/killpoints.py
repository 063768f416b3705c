"""Simulated kills at chosen instants of a run, in-process (no subprocess, no timing races).

:class:`KillSwitch` counts calls to the functions :func:`install` wraps (training steps,
evaluations, every phase of a checkpoint save, every atomic rename, the record write) and raises
:class:`SimulatedKill` at call number ``at``. A kill inside ``LocalBackend.put`` (the checkpoint
write) first writes half of the bytes, as a process killed mid-write leaves them.
``SimulatedKill`` derives from ``BaseException``: the harness catches ``Exception`` (a crash
becomes a failed record) and ``KeyboardInterrupt``, so nothing but the test sees it, as nothing
sees a SIGKILL.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from mmengine.fileio.backends.local_backend import LocalBackend


class SimulatedKill(BaseException):
    """The process "dies" here."""


class KillSwitch:
    """Counts wrapped calls; raises :class:`SimulatedKill` at call ``at`` (``None``: never)."""

    def __init__(self, at: int | None = None) -> None:
        self.at = at
        self.calls = 0
        self.log: list[str] = []

    def reset(self, at: int | None) -> None:
        self.at, self.calls, self.log = at, 0, []

    def tick(self, where: str) -> bool:
        """Count a call at ``where``; whether this is the one to kill at."""
        self.calls += 1
        self.log.append(where)
        return self.calls == self.at


def _wrap(switch: KillSwitch, label: str, original: Callable[..., Any], when: str
          ) -> Callable[..., Any]:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if when in ("before", "both") and switch.tick(f"{label}:before"):
            raise SimulatedKill(f"{label}:before")
        out = original(*args, **kwargs)
        if when in ("after", "both") and switch.tick(f"{label}:after"):
            raise SimulatedKill(f"{label}:after")
        return out
    return wrapped


def install(monkeypatch: pytest.MonkeyPatch, switch: KillSwitch) -> None:
    """Wrap every kill point of a run (see the module docstring)."""
    import bench.engine.checkpoints as ck
    import bench.engine.execute as ex
    import bench.engine.hooks as hooks

    original_put = LocalBackend.put

    def put(self: LocalBackend, obj: bytes, filepath: Any) -> None:
        if switch.tick("save:put"):
            with open(filepath, "wb") as f:
                f.write(obj[: len(obj) // 2])
            raise SimulatedKill("save:put (half written)")
        original_put(self, obj, filepath)

    monkeypatch.setattr(LocalBackend, "put", put)
    points = [
        (hooks.RunStateHook, "after_train_iter", "train-step", "before"),
        (hooks, "evaluate", "evaluate", "before"),
        (ex, "evaluate", "test", "before"),
        (ck, "fsync_file", "save:fsync", "before"),
        (ck, "write_pointer", "save:pointer", "both"),
        (os, "replace", "rename", "both"),
        (ex, "write_visuals", "visuals", "before"),
        (ex, "write_record", "record", "both"),
    ]
    for owner, name, label, when in points:
        monkeypatch.setattr(owner, name, _wrap(switch, label, getattr(owner, name), when))
