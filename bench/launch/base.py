"""What a launcher is: it runs the pending runs of a planned grid somewhere, and reports each.

Launchers are registered by name (:func:`bench.registry.register_launcher`) and built from their
options, as mmengine's ``launcher=`` picks one::

    launcher = build_launcher("local", jobs=2)
    counts = launcher.launch(runs, LaunchContext(results, console, "synthetic-nyuv2"))

========================  ==========================================================================
``local``                 runs here, one after another or in ``jobs`` worker processes (:mod:`.local`)
``torchrun``              each run over ``nproc`` processes of one node, one run at a time (:mod:`.torchrun`)
``gpus``                  runs here packed onto the GPUs of the node by measured memory (:mod:`.gpus`)
``slurm``                 a Slurm job array through submitit, requeued on time limits (:mod:`.slurm`)
``submitit-local``        the same jobs on submitit's local executor, waited for (:mod:`.slurm`)
========================  ==========================================================================

Every launcher trains a run only under its run lock (:mod:`.claim`), and a record is the same
whichever launcher wrote it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

if TYPE_CHECKING:
    from bench.grid.plan import PlannedRun


@dataclass
class LaunchContext:
    """Where a launch reports: the results root, the console and the display's title."""

    results: Path
    console: Console
    title: str


class Launcher:
    """Base class: runs a planned grid's pending runs (see the module docstring)."""

    @dataclass(frozen=True)
    class Options:
        """The launcher's options (a subclass declares its own)."""

    def __init__(self, **options: Any) -> None:
        self.options = self.Options(**options)

    def describe(self) -> str:
        """A few words for the plan's header line (e.g. ``2 processes per run (torchrun)``)."""
        return ""

    def check(self, runs: Sequence[PlannedRun]) -> None:
        """A :class:`~bench.errors.BenchError` for runs this launcher cannot run, before any
        run starts (default: none)."""

    def launch(self, runs: Sequence[PlannedRun], context: LaunchContext) -> dict[str, int] | None:
        """Run (or submit) the unfinished ``runs``; counts per status, finished ones counted as
        ``skipped``. ``None``: submitted, not waited for."""
        raise NotImplementedError


def build_launcher(name: str, **options: Any) -> Launcher:
    """The launcher ``name`` with ``options``; a clear error if unknown."""
    from bench.registry import LAUNCHERS, entry

    return entry(LAUNCHERS, name, "launcher")(**options)
