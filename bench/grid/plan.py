"""Planning: RunSpecs → planned runs (resolved config, run folder, finished or not).

:func:`expand_grid` crosses rows (methods, or ``method+weighting``), regimes and seeds into
RunSpecs, with the dataset's and each method's defaults; :func:`plan` resolves each into its
config and run folder on a dataset layout. :func:`prepare_dataset` generates a synthetic set
when needed and checks the layout of any; a reading command that has no data uses
:func:`known_layout` (the layout the last planning saw, or the records') instead.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.config.profiles import check_override_keys, find_profile, resolve_profile
from bench.config.runspec import RunSpec, config_hash, resolve, run_dir
from bench.data.base import DenseDataset, LayoutInfo
from bench.engine.progress import ProgressSink
from bench.errors import BenchError
from bench.labels.regimes import parse_regime
from bench.metadata import split_row
from bench.records.atomic import atomic_write_json
from bench.records.store import is_finished, iter_records
from bench.registry import get_dataset, method_info


@dataclass
class PlannedRun:
    """One run of a plan: its spec, resolved config, run folder, and whether it is finished."""

    spec: RunSpec
    config: dict[str, Any]
    directory: Path
    finished: bool


def expand_grid(methods: list[str], dataset: str, regimes: list[str] | None,
                seeds: list[int] | None, profile: str | None,
                overrides: tuple[tuple[str, Any], ...] = ()) -> list[RunSpec]:
    """RunSpecs of a command line; defaults come from the dataset and each method.

    ``methods`` are rows: a method, or ``method+weighting`` (:mod:`bench.config.rows`). The profile and
    every ``--set`` are validated here, before any data is touched.
    """
    ds = get_dataset(dataset)
    seeds = seeds or list(ds.default_seeds)
    found = find_profile(profile or ds.default_profile)
    check_override_keys(overrides)
    resolve_profile(found, list(ds.profile_sections()), overrides)
    if regimes is not None:
        regimes = [parse_regime(r).reference for r in regimes]  # validate early
    specs = []
    for row in methods:
        method, weighting = split_row(row)
        info = method_info(method)
        if regimes is not None:
            method_regimes = regimes
        else:
            method_regimes = (list(ds.default_regimes) if info.in_partial else []) + (
                ["full"] if info.in_full else [])
        for regime in method_regimes:
            for seed in seeds:
                specs.append(RunSpec(method, dataset, regime, seed, found.id, tuple(overrides),
                                     found.source, weighting))
    return specs


def prepare_dataset(dataset: str, data_root: Path, sink: ProgressSink | None = None,
                    size: tuple[int, int] | None = None) -> LayoutInfo:
    """Generate (a synthetic set, rendered at the protocol's ``size``) or locate the data and
    validate its layout before any training."""
    ds: type[DenseDataset] = get_dataset(dataset)
    root = ds.default_root(Path(data_root), size)
    if not ds.is_current(root, size):
        if sink:
            sink.message(f"Generating {dataset} into {root} …")
        t0 = time.perf_counter()
        ds.prepare(root, workers=min(4, os.cpu_count() or 1), size=size)
        if sink:
            sink.message(f"Generated {dataset} in {time.perf_counter() - t0:.1f} s")
    return ds.check_layout(root)


def plan(specs: list[RunSpec], layout: LayoutInfo, results_root: Path) -> list[PlannedRun]:
    out = []
    for spec in specs:
        config = resolve(spec, layout)
        directory = run_dir(results_root, spec, config_hash(config))
        out.append(PlannedRun(spec, config, directory, is_finished(directory)))
    return out


def layout_cache(results_root: Path, dataset: str, size: tuple[int, int] | None = None) -> Path:
    """Where planning keeps the layout it saw of ``dataset`` (for reading without the data)."""
    name = dataset if not size else f"{dataset}-{int(size[0])}x{int(size[1])}"
    return Path(results_root) / ".cache" / "layouts" / f"{name}.json"


def remember_layout(results_root: Path, dataset: str, layout: LayoutInfo,
                    size: tuple[int, int] | None = None) -> None:
    """Keep ``layout`` for :func:`known_layout`; a results folder that cannot take it is left
    alone (the runs' own writes will say what is wrong with it)."""
    try:
        atomic_write_json(layout_cache(results_root, dataset, size),
                          {"root": str(layout.root), "sizes": layout.sizes,
                           "height": layout.height, "width": layout.width})
    except OSError:
        pass


def known_layout(dataset: str, data_root: Path, results_root: Path,
                 size: tuple[int, int] | None = None) -> LayoutInfo | None:
    """The layout of ``dataset`` for planning without training: the data's, where it lies at
    ``data_root``; else the one the last planning into ``results_root`` saw; else the one its
    newest record was trained on; ``None`` when nothing knows it."""
    ds: type[DenseDataset] = get_dataset(dataset)
    root = ds.default_root(Path(data_root), size)
    if root.is_dir() and ds.is_current(root, size):
        try:
            return ds.check_layout(root)
        except BenchError:
            pass
    try:
        saved = json.loads(layout_cache(results_root, dataset, size).read_text())
        return LayoutInfo(Path(saved["root"]), {k: int(v) for k, v in saved["sizes"].items()},
                          int(saved["height"]), int(saved["width"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    newest = None
    for record in iter_records(results_root, dataset):
        stored = record.config.get("dataset", {}).get("fingerprint", {}).get("stored_size")
        if size and stored and list(stored) != [int(size[0]), int(size[1])]:
            continue
        if newest is None or record.finished_at > newest.finished_at:
            newest = record
    if newest is None:
        return None
    try:
        fingerprint = newest.config["dataset"]["fingerprint"]
        height, width = fingerprint["stored_size"]
        return LayoutInfo(Path(newest.config["execution"]["data_root"]),
                          {k: int(v) for k, v in fingerprint["sizes"].items()},
                          int(height), int(width))
    except (KeyError, TypeError, ValueError):
        return None
