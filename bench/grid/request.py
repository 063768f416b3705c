"""What a command names, and the one function that turns it into a checked grid of runs.

Every command that names runs (``run``, ``status``, ``power``, ``tune``, ``perf``, ``table``,
``report``, ``check``) takes the same selection flags (:mod:`bench.cli.selection`): the dataset,
methods (or rows ``method+weighting``), ``--weighting``, regimes, seeds, profile and ``--set``.
They make one :class:`GridRequest`.

* :func:`select` validates every name and value of it without touching any data: methods and
  weightings against the registries, regimes, seeds, the profile and every ``--set`` key and
  value. A reading command needs no more.
* :func:`build_grid` plans its runs. For a command that trains, the data is prepared (a
  synthetic set generated) and its layout checked, the runs are planned, and the preflight
  (:func:`bench.grid.preflight.verify_plan`) checks every pending run before any starts. For a
  command that only reads run states (``bench status``), the layout comes from the data where
  it lies, else from what the results folder already knows (:func:`~bench.grid.plan.known_layout`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.config.profiles import (
    Profile,
    check_override_keys,
    find_profile,
    identity_overrides,
    parse_overrides,
    resolve_profile,
)
from bench.config.rows import cross_weightings, parse_weightings
from bench.config.runspec import RunSpec, check_network_size
from bench.config.trackers import check_trackers, parse_trackers
from bench.data.base import DenseDataset, LayoutInfo
from bench.data.check import DataCheck
from bench.engine.progress import ProgressSink
from bench.errors import BenchError
from bench.grid.plan import (
    PlannedRun,
    expand_grid,
    known_layout,
    plan,
    prepare_dataset,
    remember_layout,
)
from bench.labels.regimes import parse_regime
from bench.metadata import split_row
from bench.records.store import check_results_folder
from bench.registry import expand_methods, get_dataset, method_info

#: the seeds a run may have: what numpy's and torch's generators take
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class GridRequest:
    """The selection flags of a command (as typed; ``None``: the flag was not given)."""

    dataset: str = "synthetic-nyuv2"
    methods: str | None = None
    weighting: str | None = None
    regimes: str | None = None
    seeds: str | None = None
    profile: str | None = None
    sets: tuple[str, ...] = ()
    results: Path = Path("results")
    data_root: Path = Path("datasets")
    #: what ``methods`` means when not given (``all``; ``power`` for the power study)
    default_methods: str = "all"
    #: ``--track``: the experiment trackers the runs are sent to (``None``: the profile's
    #: ``log.track``); never part of a run's identity
    track: str | None = None


@dataclass
class Selection:
    """A validated :class:`GridRequest`: names checked, lists parsed, nothing read from disk."""

    request: GridRequest
    dataset: Any  # the adapter class
    rows: list[str]
    notes: list[str]
    #: canonical regime names, or ``None``: each method's default regimes
    regimes: list[str] | None
    seeds: list[int]
    profile: Profile
    #: the ``--set`` overrides that name the runs (``log.*`` left out)
    overrides: tuple[tuple[str, Any], ...]
    #: the trackers every run is sent to (``--track``, else the profile's ``log.track``)
    track: tuple[str, ...] = ()

    @property
    def methods_given(self) -> bool:
        return self.request.methods is not None

    @property
    def data_size(self) -> tuple[int, int] | None:
        """The protocol's ``data.size`` (a synthetic set is rendered at it); None: stored size."""
        size = resolve_profile(self.profile, list(self.dataset.profile_sections()),
                               self.overrides)["data"].get("size")
        return (int(size[0]), int(size[1])) if size else None

    def specs(self, rows: Sequence[str] | None = None,
              regimes: Sequence[str] | None = None) -> list[RunSpec]:
        """The RunSpecs of ``rows`` (default: the selected ones) × regimes × seeds."""
        chosen = list(regimes) if regimes is not None else self.regimes
        return expand_grid(list(self.rows if rows is None else rows), self.dataset.name, chosen,
                           self.seeds, self.request.profile, self.overrides)


@dataclass
class Grid:
    """The planned runs of a selection (``layout`` None: no layout known, nothing planned)."""

    selection: Selection
    specs: list[RunSpec]
    layout: LayoutInfo | None
    runs: list[PlannedRun]
    #: the data check of a grid that will train (None when every run is finished)
    checked: DataCheck | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def todo(self) -> int:
        return sum(not r.finished for r in self.runs)

    @property
    def profile(self) -> str:
        return self.specs[0].profile if self.specs else self.selection.profile.id


def parse_list(text: str | None, flag: str, example: str) -> list[str] | None:
    """``"a, b"`` → ``["a", "b"]``; ``None`` (flag not given) → ``None``; a given value with no
    item (``""``, ``","``) is an error, never the default."""
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise BenchError(f"{flag} '{text}' names nothing.", f"Give a comma list, e.g. {flag} "
                                                           f"{example}, or leave {flag} out for "
                                                           "the default.")
    return items


def parse_seeds(text: str | None) -> list[int] | None:
    """``--seeds 0,1,2`` → ``[0, 1, 2]`` (duplicates dropped; each in 0 … 2**32 − 1)."""
    items = parse_list(text, "--seeds", "0,1,2")
    if items is None:
        return None
    try:
        seeds = [int(s) for s in items]
    except ValueError:
        raise BenchError(f"Bad --seeds '{text}'.", "Give integers, each one, e.g. --seeds "
                                                   "0,1,2,3,4 (not a range like 0-4).") from None
    bad = [s for s in seeds if not 0 <= s <= MAX_SEED]
    if bad:
        raise BenchError(f"Seed {bad[0]} of --seeds '{text}' is out of range.",
                         f"A seed is an integer from 0 to {MAX_SEED} (2**32 − 1).")
    twice = sorted({s for s in seeds if seeds.count(s) > 1})
    if twice:
        raise BenchError(f"--seeds '{text}' names seed {twice[0]} twice.",
                         "Name each seed once: the same seed trains the same run.")
    return seeds


def select(request: GridRequest) -> Selection:
    """Validate ``request`` (see the module docstring); nothing is read from the data."""
    ds = get_dataset(request.dataset)
    methods = request.methods if request.methods is not None else request.default_methods
    rows, notes = cross_weightings(expand_methods(methods), parse_weightings(request.weighting))
    rows, skipped = applicable_rows(rows, methods, ds)
    notes += skipped
    regime_names = parse_list(request.regimes, "--regimes", "onelabel,full")
    regimes = ([parse_regime(r).reference for r in regime_names] if regime_names is not None
               else None)
    seeds = parse_seeds(request.seeds)
    profile = find_profile(request.profile or ds.default_profile)
    overrides = tuple(parse_overrides(list(request.sets)))
    check_override_keys(overrides)
    merged = resolve_profile(profile, list(ds.profile_sections()), overrides)
    if merged["data"].get("size"):  # known before the data: checked before it is touched
        check_network_size(merged["data"]["size"], merged)
    track = parse_trackers(request.track if request.track is not None
                           else merged["log"]["track"])
    if request.track is not None and not track:
        raise BenchError(f"--track '{request.track}' names nothing.",
                         "Give a comma list, e.g. --track tensorboard,mlflow.")
    return Selection(request, ds, rows, notes, regimes,
                     seeds if seeds is not None else list(ds.default_seeds), profile,
                     identity_overrides(overrides), track)


def applicable_rows(rows: list[str], methods: str, ds: type[DenseDataset]
                    ) -> tuple[list[str], list[str]]:
    """The rows whose method can run on ``ds`` (``MethodInfo.needs_tasks``), and a note for
    each member of a method set left out; a method named on its own that cannot run there is
    an error."""
    named = {n.strip() for n in methods.split(",")}
    tasks = {t.name for t in ds.build_tasks()}
    keep, notes = [], []
    for row in rows:
        method = split_row(row)[0]
        missing = [t for t in method_info(method).needs_tasks if t not in tasks]
        if not missing:
            keep.append(row)
        elif method in named or row in named:
            raise BenchError(f"{method} needs the tasks {', '.join(method_info(method).needs_tasks)}"
                             f"; {ds.name} has {', '.join(sorted(tasks))}.",
                             f"Run it on a dataset with {', '.join(missing)} (e.g. nyuv2, "
                             "synthetic-nyuv2), or leave it out of --methods.")
        else:
            notes.append(f"{row} left out: it needs the tasks "
                         f"{', '.join(method_info(method).needs_tasks)} and {ds.name} has no "
                         f"{', '.join(missing)}.")
    return keep, notes


def build_grid(request: GridRequest, *, train: bool,
               specs: Callable[[Selection], list[RunSpec]] | None = None,
               sink: ProgressSink | None = None) -> Grid:
    """The planned runs of ``request`` (see the module docstring).

    ``train``: prepare and check the data, plan, and run the preflight (a
    :class:`~bench.errors.BenchError` before any run starts); otherwise plan on the known layout
    without reading the data. ``specs`` makes the RunSpecs from the selection when a command's
    grid is not the plain product (the power study's controls).
    """
    from bench.grid.preflight import verify_plan

    selection = select(request)
    chosen = specs(selection) if specs is not None else selection.specs()
    check_results_folder(request.results, write=train)
    if train:  # a tracker that is not installed: exit 2 before the data is even prepared
        check_trackers(selection.track)
    size = selection.data_size if selection.dataset.synthetic else None
    if train:
        layout = prepare_dataset(selection.dataset.name, request.data_root, sink, size)
        remember_layout(request.results, selection.dataset.name, layout, size)
    else:
        layout = known_layout(selection.dataset.name, request.data_root, request.results, size)
    runs = plan(chosen, layout, request.results) if layout is not None else []
    for run in runs:  # how the run is watched: in its execution section, named by no hash
        run.config["execution"]["track"] = list(selection.track)
    grid = Grid(selection, chosen, layout, runs, notes=list(selection.notes))
    if train:
        grid.checked = verify_plan(runs, layout, request.results)
        if grid.todo:
            from bench.engine.tracking import prepare_trackers

            prepare_trackers(selection.track, selection.dataset.name)
    return grid
