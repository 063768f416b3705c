"""The power study's statistics: does the benchmark separate what it must separate?

From records alone, three kinds of comparison, each per label regime and over seeds:

* **positive control** (the headroom): SL trained with every label against SL with the regime's
  partial labels. A benchmark on which partial-label methods can show their worth needs this gap.
* **negative controls**: each cross-task method against its control with the cross-task relation
  destroyed (``MethodInfo.control_of``, e.g. ``xtc-shuffled``: targets from other images). A
  method that is not separated from its control gains nothing from the relation it claims to use.
* **methods against SL** on the same regime: the question the paper asks.

For runs :math:`a_1..a_n` of one side and :math:`b_1..b_m` of the other, on each task's primary
metric and on Δm, the effect is :math:`\\delta = \\pm(\\bar a - \\bar b)` (``+`` where higher is
better, so :math:`\\delta > 0` means *a* is better), its 95 % confidence interval and p-value
come from Welch's t-test (``scipy.stats.ttest_ind(equal_var=False)``). Δm of every run is taken
against the mean of SL with full labels (the positive reference), so all Δm share one baseline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from bench.metadata import row_key, split_row
from bench.report.aggregate import DELTA, Baseline, runs_delta_m
from bench.report.frame import MetricInfo, RecordSet
from bench.report.names import arrow

REFERENCE = Baseline("sl", "full")
POSITIVE, NEGATIVE, VERSUS_SL = "positive control", "negative control", "method vs SL"


@dataclass(frozen=True)
class Side:
    method: str
    regime: str

    def __str__(self) -> str:
        return f"{self.method}@{self.regime}"


@dataclass(frozen=True)
class Comparison:
    kind: str
    a: Side
    b: Side


@dataclass
class Effect:
    """One comparison on one column (``δ > 0``: *a* is better)."""

    column: str
    delta: float
    low: float
    high: float
    p: float
    n_a: int
    n_b: int

    @property
    def significant(self) -> bool:
        return math.isfinite(self.p) and self.p < 0.05


@dataclass
class PowerResult:
    comparisons: list[Comparison]
    effects: dict[tuple[Comparison, str], Effect]
    columns: list[tuple[str, str]]  # (column, header)
    notes: list[str] = field(default_factory=list)

    def effect(self, comparison: Comparison, column: str) -> Effect | None:
        return self.effects.get((comparison, column))

    def of_kind(self, kind: str) -> list[Comparison]:
        return [c for c in self.comparisons if c.kind == kind]


def welch(a: np.ndarray, b: np.ndarray, higher_is_better: bool) -> tuple[float, ...]:
    """``(δ, low, high, p)`` of Welch's t-test; NaN where either side has fewer than 2 values."""
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    sign = 1.0 if higher_is_better else -1.0
    if len(a) < 2 or len(b) < 2:
        delta = sign * (a.mean() - b.mean()) if len(a) and len(b) else float("nan")
        return float(delta), float("nan"), float("nan"), float("nan")
    result = stats.ttest_ind(a, b, equal_var=False)
    ci = result.confidence_interval(0.95)
    low, high = sorted((sign * float(ci.low), sign * float(ci.high)))
    return float(sign * (a.mean() - b.mean())), low, high, float(result.pvalue)


def control_row(row: str, controls: dict[str, str]) -> str | None:
    """The negative control of a table row under the same weighting (``xtc+dwa`` →
    ``xtc-shuffled+dwa``); ``None`` when its method has no control."""
    method, weighting = split_row(row)
    return row_key(controls[method], weighting) if method in controls else None


def comparisons(records: RecordSet, regimes: list[str], methods: list[str]) -> list[Comparison]:
    """Positive controls per regime, each method (a row: ``xtc`` or ``xtc+dwa``) against its
    control under the same weighting and against SL."""
    controls = {info.control_of: name for name, info in records.names.methods.items()
                if info.control_of}
    out = [Comparison(POSITIVE, Side("sl", "full"), Side("sl", r)) for r in regimes]
    for r in regimes:
        for m in methods:
            control = control_row(m, controls)
            if control is not None:
                out.append(Comparison(NEGATIVE, Side(m, r), Side(control, r)))
    for r in regimes:
        out += [Comparison(VERSUS_SL, Side(m, r), Side("sl", r)) for m in methods if m != "sl"]
    return out


def analyse(records: RecordSet, runs: pd.DataFrame, regimes: list[str],
            methods: list[str]) -> PowerResult:
    """Every comparison of :func:`comparisons` on each task's primary metric and on Δm."""
    primaries = [m for m in records.metrics if m.primary]
    runs = runs.copy()
    runs[DELTA] = runs_delta_m(runs, records.metrics, REFERENCE)
    columns = [(m.column, header(m)) for m in primaries] + [(DELTA, f"{DELTA} (%) ↑")]
    direction = {m.column: m.higher_is_better for m in primaries} | {DELTA: True}
    result = PowerResult(comparisons(records, regimes, methods), {}, columns)
    for comp in result.comparisons:
        a = runs[(runs["method"] == comp.a.method) & (runs["regime"] == comp.a.regime)]
        b = runs[(runs["method"] == comp.b.method) & (runs["regime"] == comp.b.regime)]
        if a.empty or b.empty:
            result.notes.append(f"{comp.a} vs {comp.b}: no runs of "
                                f"{comp.a if a.empty else comp.b}")
            continue
        for column, _ in columns:
            va, vb = a[column].to_numpy(float), b[column].to_numpy(float)
            delta, low, high, p = welch(va, vb, direction[column])
            result.effects[(comp, column)] = Effect(column, delta, low, high, p,
                                                    int(np.isfinite(va).sum()),
                                                    int(np.isfinite(vb).sum()))
    return result


def header(m: MetricInfo) -> str:
    return f"{m.task_abbrev or m.task} {m.label} {arrow(m.higher_is_better)}"


def verdicts(result: PowerResult) -> list[str]:
    """The study's conclusions, one line each (what holds and what does not)."""
    lines = []
    task_columns = [c for c, _ in result.columns if c != DELTA]
    for comp in result.of_kind(POSITIVE):
        sig = [c for c in task_columns if (e := result.effect(comp, c)) and e.significant
               and e.delta > 0]
        ok = len(sig) == len(task_columns)
        lines.append(f"Positive control {comp.a} vs {comp.b}: "
                     + ("significant on every task" if ok else
                        f"significant on {len(sig)} of {len(task_columns)} tasks")
                     + " (Welch p < 0.05, full labels better).")
    for comp in result.of_kind(NEGATIVE):
        e = result.effect(comp, DELTA)
        if e is None:
            continue
        if e.significant:
            side = "better" if e.delta > 0 else "WORSE"
            lines.append(f"Negative control: {comp.a.method} is separated from {comp.b.method} "
                         f"on {comp.a.regime} (Δm {e.delta:+.2f}, p = {e.p:.3g}; the method is "
                         f"{side} than its control).")
        else:
            lines.append(f"Negative control: {comp.a.method} is NOT separated from "
                         f"{comp.b.method} on {comp.a.regime} (Δm {e.delta:+.2f}, p = {e.p:.3g}).")
    return lines
