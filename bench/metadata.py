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
    #: other names of the same rows in the paper (Table 5 calls SL with full labels "MTL"); a
    #: method named "MTL" is the plain multi-task network, whose weighted rows the paper names
    #: by the weighting alone ("Uncertainty" = MTL + Uncertainty)
    paper_aliases: tuple[str, ...] = ()
    #: whether a task weighting applies (``--weighting``); False for independent networks (STL)
    weighted: bool = True
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
    #: tasks a dataset must have for it to run (the geometric oracle's depth and normals); a
    #: method set leaves it out on other datasets, and naming it there is an error
    needs_tasks: tuple[str, ...] = ()
    #: registered name, set at registration
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["sets"] = list(self.sets)
        d["paper_aliases"] = list(self.paper_aliases)
        d["needs_tasks"] = list(self.needs_tasks)
        d["search_space"] = {k: dict(v) for k, v in self.search_space.items()}
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MethodInfo:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["sets"] = tuple(values.get("sets", ()))
        values["paper_aliases"] = tuple(values.get("paper_aliases", ()))
        values["needs_tasks"] = tuple(values.get("needs_tasks", ()))
        return cls(**values)

    @classmethod
    def fallback(cls, name: str) -> MethodInfo:
        """What a report uses for a method whose record carries no metadata."""
        return cls(summary="", display=name, short=name, family=name, colour="", order=1000,
                   name=name)


@dataclass(frozen=True)
class WeightingInfo:
    """How a registered task weighting (``bench.weightings``) is named, ordered and coloured.

    Records carry a copy, so a table names "Supervised Learning + DWA" without the harness code.
    """

    #: one line for ``bench list``
    summary: str
    #: the name in tables ("DWA")
    display: str
    #: its name in the paper's tables, if the paper has rows with it ("Uncertainty")
    paper_name: str | None = None
    #: its colour when a row is a weighted method (mixed with the method's colour)
    colour: str = ""
    #: position among the weightings (equal first)
    order: int = 0
    #: whether it needs each task's gradient of the shared parameters (cost: one backward per task)
    task_gradients: bool = False
    #: registered name, set at registration
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WeightingInfo:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def equal(cls) -> WeightingInfo:
        """What a record without weighting metadata (older harness versions) used."""
        return cls(summary="equal task weights", display="Equal", name="equal")


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


#: the weighting a method uses when none is named
EQUAL = "equal"
#: separates a method from its weighting in a row name (``sl+dwa``)
ROW_SEPARATOR = "+"


def row_key(method: str, weighting: str = EQUAL) -> str:
    """The name of a table row: the method alone with equal weights, else ``method+weighting``."""
    return method if weighting == EQUAL else f"{method}{ROW_SEPARATOR}{weighting}"


def split_row(row: str) -> tuple[str, str]:
    """``sl+dwa`` → ``("sl", "dwa")``; ``sl`` → ``("sl", "equal")``."""
    method, sep, weighting = row.partition(ROW_SEPARATOR)
    return (method, weighting) if sep else (method, EQUAL)
