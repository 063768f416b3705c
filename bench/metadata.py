"""Metadata of methods and datasets: what tables, figures and ``bench list`` need to know.

One :class:`MethodInfo` is registered next to each method class (timm's ``default_cfgs`` beside
``@register_model``), so everything about how a method is named, grouped, coloured and selected
lives in one place, in the method's own file. A copy goes into every record, so reports read
records alone: a table can be made where the method's code is not installed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class MethodInfo:
    """How a registered method is named, grouped, coloured and selected."""

    #: one line for ``bench list`` (what the method does)
    summary: str
    #: the paper-facing name in tables ("Supervised Learning")
    display: str
    #: a short name for figure legends ("SL")
    short: str
    #: profile section that configures it (``methods.<family>``); variants share their family
    family: str
    #: its colour in every figure
    colour: str
    #: position in tables and ``bench list``
    order: int
    #: name of its rows in the paper's tables (``bench/report/paper/*.csv``), if it has any
    paper_name: str | None = None
    #: whether ``--methods all`` includes it
    in_all: bool = True
    #: named sets it belongs to (``--methods controls``)
    sets: tuple[str, ...] = ()
    #: regimes of the default grid: the dataset's partial-label regimes and/or ``full``
    in_partial: bool = True
    in_full: bool = False
    #: whether the report draws its joint task-pair mapping (the paper's Fig. 3)
    mapped_figure: bool = False
    #: hyper-parameters ``bench tune`` searches: ``{profile key: {"type": ..., ...}}``
    search_space: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: for a negative control: the method whose relation it destroys (``xtc-shuffled`` → ``xtc``)
    control_of: str | None = None
    #: registered name, set at registration
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["sets"] = list(self.sets)
        d["search_space"] = {k: dict(v) for k, v in self.search_space.items()}
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MethodInfo:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["sets"] = tuple(values.get("sets", ()))
        return cls(**values)

    @classmethod
    def fallback(cls, name: str) -> MethodInfo:
        """What a report uses for a method whose record carries no metadata."""
        return cls(summary="", display=name, short=name, family=name, colour="", order=1000,
                   name=name)


@dataclass(frozen=True)
class DatasetInfo:
    """How a dataset is named and which protocol is its default."""

    name: str
    display: str
    default_profile: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DatasetInfo:
        return cls(str(data.get("name", "")), str(data.get("display", data.get("name", ""))),
                   str(data.get("default_profile", "")))
