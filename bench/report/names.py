"""Display names used by tables and figures: methods, regimes, datasets, directions.

Registered names (``sl``, ``onelabel``) stay the keys everywhere; this module only decides how
they are printed. A table row is a method with its task weighting, keyed ``sl`` (equal weights)
or ``sl+dwa`` and printed "Supervised Learning + DWA". Method, weighting and dataset names,
colours and order come from the metadata the records carry (:class:`Names`, built from the
records); regimes are named from their parsed form (:class:`bench.labels.regimes.Regime`). Paper-facing
outputs (LaTeX, Markdown, figures) use the paper's names ("Supervised Learning", "one");
terminal and CSV outputs keep the names one types on the command line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction

from bench.errors import BenchError
from bench.labels.regimes import Regime, parse_regime
from bench.metadata import EQUAL, DatasetInfo, MethodInfo, WeightingInfo
from bench.records.record import Record

REGIME_DISPLAY = {"full": "full", "randomlabels": "random", "onelabel": "one"}
REGIME_MEANING = {
    "full": "every image has every task label",
    "randomlabels": "each image has a random number of task labels",
    "onelabel": "each image has one task label",
}
#: colours of methods whose metadata names none
FALLBACK_COLOURS = ("#1f77b4", "#2ca02c", "#9467bd", "#bcbd22", "#17becf", "#7f7f7f", "#e377c2")


@dataclass
class Names:
    """How the methods and the dataset of a set of records are named, coloured and ordered."""

    dataset: DatasetInfo
    methods: dict[str, MethodInfo] = field(default_factory=dict)
    #: position of each row's weighting among the weightings (rows of one method follow it)
    weighting_order: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_records(cls, records: Iterable[Record], dataset: str) -> Names:
        """The newest metadata of every row (method + weighting) and of the dataset."""
        methods: dict[str, MethodInfo] = {}
        orders: dict[str, int] = {}
        info = DatasetInfo(dataset, dataset, "")
        for r in sorted(records, key=lambda r: r.finished_at):
            methods[r.row] = weighted_info(r.method_info, r.weighting_info, r.weighting)
            orders[r.row] = r.weighting_info.order if r.weighting != EQUAL else -1
            if r.dataset_info.name == dataset:
                info = r.dataset_info
        return cls(info, methods, orders)

    def info(self, method: str) -> MethodInfo:
        return self.methods.get(method) or MethodInfo.fallback(method)

    def method(self, name: str) -> str:
        """The paper's name of a method (``sl`` → "Supervised Learning")."""
        return self.info(name).display or name

    def short(self, name: str) -> str:
        """The short name of figure legends (``sl`` → "SL")."""
        return self.info(name).short or self.method(name)

    def colour(self, name: str) -> str:
        """The colour of ``name`` in every figure."""
        return self.info(name).colour or FALLBACK_COLOURS[sum(map(ord, name))
                                                          % len(FALLBACK_COLOURS)]

    def order(self) -> list[str]:
        """Row names in display order (a method's weighted rows follow it)."""
        return sorted(self.methods, key=lambda n: (self.info(n).order,
                                                   self.weighting_order.get(n, -1), n))

    def mapped(self) -> list[str]:
        """Methods whose joint task-pair mapping the report draws, in display order."""
        return [n for n in self.order() if self.info(n).mapped_figure]

    def paper_methods(self) -> dict[str, str]:
        """The paper's row name (and its aliases) → row name (method, or method+weighting)."""
        out: dict[str, str] = {}
        for n, i in self.methods.items():
            for name in (i.paper_name, *i.paper_aliases):
                if name:
                    out.setdefault(name, n)
        return out

    @property
    def dataset_display(self) -> str:
        return self.dataset.display or self.dataset.name


def weighted_info(method: MethodInfo, weighting: WeightingInfo, name: str) -> MethodInfo:
    """The metadata of the row "method + weighting" (the method's own with equal weights).

    Display "Supervised Learning + DWA", the colours mixed, ordered after the method. Its names in
    the paper: "<method>+<weighting>" ("Ours+Uncertainty"); the plain multi-task network (a
    method the paper also calls "MTL") with a weighting is printed by the weighting alone
    ("Uncertainty", Table 5).
    """
    if name == EQUAL:
        return method
    display = weighting.display or name
    paper: list[str] = []
    if weighting.paper_name:
        bases = [method.paper_name, *method.paper_aliases]
        if "MTL" in bases:
            paper.append(weighting.paper_name)
        paper += [f"{b}+{weighting.paper_name}" for b in bases if b]
    return MethodInfo(
        summary=f"{method.summary} + {weighting.summary}", display=f"{method.display} + {display}",
        short=f"{method.short} + {display}", family=method.family,
        colour=mix_colours(method.colour, weighting.colour), order=method.order,
        paper_name=paper[0] if paper else None, paper_aliases=tuple(paper[1:]),
        in_all=method.in_all, sets=method.sets, in_partial=method.in_partial,
        in_full=method.in_full, mapped_figure=method.mapped_figure, weighted=method.weighted,
        name=f"{method.name or method.display}+{name}")


def mix_colours(a: str, b: str) -> str:
    """The mean of two ``#rrggbb`` colours (either one alone when the other is missing)."""
    if not (a.startswith("#") and len(a) == 7):
        return b
    if not (b.startswith("#") and len(b) == 7):
        return a
    channels = [(int(a[i:i + 2], 16) + int(b[i:i + 2], 16)) // 2 for i in (1, 3, 5)]
    return "#" + "".join(f"{c:02x}" for c in channels)


def _regime(regime: str) -> Regime | None:
    try:
        return parse_regime(regime)
    except BenchError:
        return None


def regime_ratios(regime: str) -> tuple[float, ...] | None:
    """``ratio:1:9`` → ``(1.0, 9.0)``; None for other regimes."""
    parsed = _regime(regime)
    return parsed.ratios if parsed is not None and parsed.kind == "ratio" else None


def first_task_fraction(regime: str) -> float | None:
    """Fraction of the training images labelled for the first task in a ``ratio:a:b…`` regime.

    ``a / (a + b + …)``: ``ratio:1:9`` → 0.1. None for other regimes.
    """
    ratios = regime_ratios(regime)
    if not ratios or sum(ratios) <= 0:
        return None
    return ratios[0] / sum(ratios)


def regime_display(regime: str) -> str:
    """The paper's label of a regime: ``full``, ``random``, ``one``, ``1:9``."""
    if regime in REGIME_DISPLAY:
        return REGIME_DISPLAY[regime]
    ratios = regime_ratios(regime)
    if ratios:
        return ":".join(str(Fraction(r).limit_denominator(1000)) for r in ratios)
    return regime


def regime_meaning(regime: str, tasks: list[str]) -> str:
    """One phrase saying what a regime means, for captions and footers."""
    if regime in REGIME_MEANING:
        return REGIME_MEANING[regime]
    ratios = regime_ratios(regime)
    if ratios and sum(ratios) > 0 and len(ratios) == len(tasks):
        parts = [f"{r / sum(ratios) * 100:.0f}% of the images labelled for {t} only"
                 for r, t in zip(ratios, tasks, strict=True)]
        return ", ".join(parts)
    return regime


def regime_sort_key(regime: str) -> tuple:
    """Paper order: full, random, one, then ratios by the first task's share, then the rest."""
    order = {"full": 0, "randomlabels": 1, "onelabel": 2}
    if regime in order:
        return (order[regime], 0.0, regime)
    fraction = first_task_fraction(regime)
    if fraction is not None:
        return (3, fraction, regime)
    return (4, 0.0, regime)


def arrow(higher_is_better: bool) -> str:
    """``↑`` when higher is better, ``↓`` when lower is better."""
    return "↑" if higher_is_better else "↓"
