"""Experiment trackers a run can be sent to (``bench run --track``, profile key ``log.track``).

A tracker is one of mmengine's visualizer backends (``mmengine.registry.VISBACKENDS``): a short
name (``tensorboard``, ``mlflow``, ``wandb``, and ``aim``, ``clearml``, ``dvclive``,
``neptune``, ``local``) or the registered class name (``MLflowVisBackend``). This module only
names them and checks, while the grid is planned, that each one's library is installed (a
:class:`~bench.errors.BenchError`, exit 2, naming what to install). What a tracker is sent is
:mod:`bench.engine.tracking`'s job. Tracking is never part of a run's identity: the choice is
kept in the config's ``execution`` section, which no hash covers.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.errors import BenchError, unknown_name


@dataclass(frozen=True)
class TrackerInfo:
    """A tracker: its mmengine backend, the module it imports and how to install it."""

    name: str
    backend: str
    module: str | None
    install: str


#: the trackers of mmengine 0.10's vis backends, by short name (``extra``: a pyproject extra)
TRACKERS: dict[str, TrackerInfo] = {t.name: t for t in (
    TrackerInfo("tensorboard", "TensorboardVisBackend", "tensorboard",
                'pip install -e ".[tensorboard]"'),
    TrackerInfo("mlflow", "MLflowVisBackend", "mlflow", 'pip install -e ".[mlflow]"'),
    TrackerInfo("wandb", "WandbVisBackend", "wandb", 'pip install -e ".[wandb]"'),
    TrackerInfo("aim", "AimVisBackend", "aim", "pip install aim"),
    TrackerInfo("clearml", "ClearMLVisBackend", "clearml", "pip install clearml"),
    TrackerInfo("dvclive", "DVCLiveVisBackend", "dvclive", "pip install dvclive pygit2"),
    TrackerInfo("neptune", "NeptuneVisBackend", "neptune", "pip install neptune"),
    TrackerInfo("local", "LocalVisBackend", None, ""),
)}


def registered_backends() -> list[str]:
    """The class names mmengine's ``VISBACKENDS`` registry holds."""
    import mmengine.visualization  # noqa: F401  (registers the backends)
    from mmengine.registry import VISBACKENDS

    return sorted(VISBACKENDS.module_dict)


def tracker_info(name: str) -> TrackerInfo:
    """The tracker called ``name`` (a short name, any case, or a registered backend class)."""
    key = name.strip()
    if key.lower() in TRACKERS:
        return TRACKERS[key.lower()]
    for info in TRACKERS.values():
        if info.backend.lower() == key.lower():
            return info
    if key in registered_backends():  # registered by a plugin: no short name, no check
        return TrackerInfo(key, key, None, "")
    raise unknown_name("tracker", key, [*TRACKERS, *registered_backends()])


def parse_trackers(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"tensorboard, mlflow"`` or ``["tensorboard", "mlflow"]`` → the trackers' names
    (unknown names are a :class:`BenchError`; duplicates dropped, order kept)."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    names: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise BenchError(f"A tracker is named by a string, not {item!r}.",
                             "Write --track tensorboard,mlflow or log.track: [\"mlflow\"].")
        if item.strip():
            name = tracker_info(item).name
            if name not in names:
                names.append(name)
    return tuple(names)


def missing_tracker(names: Iterable[str]) -> TrackerInfo | None:
    """The first of ``names`` whose library is not installed (``None``: all are)."""
    for name in names:
        info = tracker_info(name)
        if info.module is not None and importlib.util.find_spec(info.module) is None:
            return info
    return None


def check_trackers(names: Iterable[str]) -> None:
    """A :class:`BenchError` (exit 2, before any run starts) for a tracker not installed."""
    info = missing_tracker(names)
    if info is not None:
        raise BenchError(f"The tracker '{info.name}' is not installed (no module "
                         f"'{info.module}').",
                         f"Install it with `{info.install}`, or leave it out of --track / "
                         "log.track.")


def check_track_value(key: str, value: Any) -> None:
    """The profile check of ``log.track``: a list of tracker names or a comma string."""
    if not isinstance(value, (str, list)):
        raise BenchError(f"Profile value {key}={value!r} is not valid: expected a list of "
                         "tracker names (or a comma list in one string).",
                         f"Fix the profile or the --set {key}=… option, e.g. "
                         f"--set {key}=tensorboard,mlflow.")
    parse_trackers(value)


def short_names() -> list[str]:
    """The documented short names (those with a pyproject extra first)."""
    return list(TRACKERS)
