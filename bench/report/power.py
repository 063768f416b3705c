"""The power study's statistics: does the benchmark separate what it must separate?

From records alone, three kinds of comparison, each per label regime and over seeds:

* **positive control** (the headroom): SL trained with every label against SL with the regime's
  partial labels. A benchmark on which partial-label methods can show their worth needs this gap.
* **negative controls**: each cross-task method against its control with the cross-task relation
  destroyed (``MethodInfo.control_of``, e.g. ``xtc-shuffled``: targets from other images). A
  method that is not separated from its control gains nothing from the relation it claims to
  use. The analytic oracle (``oracle-geometry``, in the method set ``oracles``) against its own
  control says whether the benchmark can resolve cross-task signal at all.
* **methods against SL** on the same regime: the question the paper asks.

Each comparison is made on each task's primary metric and on Δm (every run's Δm against the mean
of SL with full labels, so all Δm share one baseline) by :mod:`bench.report.stats`: by default a
**paired** t-test over the seeds both sides ran (a seed fixes the label mask and the
initialisation), or Welch's; the 95 % interval of δ (δ > 0: *a* is better); the p-value
**Holm**-adjusted over every test of the study (the family: all comparisons × all columns it
reports); the **smallest effect detectable** at 80 % power; and, where a difference is not
significant, the **TOST equivalence** p-value within a margin of a fraction of the positive
control's effect on the same column and regime (by default 41 %: the share of the one-label gap
that the paper's method closes on NYUv2). Runs that did not finish ``ok`` (``collapsed``,
``diverged``) are left out, and a note says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from bench.metadata import row_key, split_row
from bench.report import stats
from bench.report.aggregate import DELTA, Baseline, runs_delta_m
from bench.report.frame import MetricInfo, RecordSet
from bench.report.names import arrow

REFERENCE = Baseline("sl", "full")
POSITIVE, NEGATIVE, VERSUS_SL = "positive control", "negative control", "method vs SL"
#: the equivalence margin's default: this fraction of the positive control's |δ|
MARGIN_FRACTION = 0.41
#: the method set whose members are analytic oracles of cross-task signal
ORACLES = "oracles"


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
    """One comparison on one column (``δ > 0``: *a* is better), with its power and equivalence."""

    column: str
    test: stats.Comparison
    p_holm: float = float("nan")
    detectable: float = float("nan")
    margin: float = float("nan")
    equivalence_p: float = float("nan")

    @property
    def delta(self) -> float:
        return self.test.delta

    @property
    def low(self) -> float:
        return self.test.low

    @property
    def high(self) -> float:
        return self.test.high

    @property
    def p(self) -> float:
        return self.test.p

    @property
    def n_a(self) -> int:
        return self.test.n_a

    @property
    def n_b(self) -> int:
        return self.test.n_b

    @property
    def significant(self) -> bool:
        """Holm-adjusted p < 0.05."""
        return math.isfinite(self.p_holm) and self.p_holm < stats.ALPHA

    @property
    def equivalent(self) -> bool:
        """TOST p < 0.05 within ±margin (and not significantly different)."""
        return (not self.significant and math.isfinite(self.equivalence_p)
                and self.equivalence_p < stats.ALPHA)


@dataclass
class PowerResult:
    comparisons: list[Comparison]
    effects: dict[tuple[Comparison, str], Effect]
    columns: list[tuple[str, str]]  # (column, header)
    test: str = "paired"
    margin_fraction: float = MARGIN_FRACTION
    oracles: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)

    def effect(self, comparison: Comparison, column: str) -> Effect | None:
        return self.effects.get((comparison, column))

    def of_kind(self, kind: str) -> list[Comparison]:
        return [c for c in self.comparisons if c.kind == kind]

    @property
    def tests(self) -> int:
        """The size of the Holm family: the testable comparisons × columns."""
        return sum(1 for e in self.effects.values() if e.test.testable)


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


def analyse(records: RecordSet, runs: pd.DataFrame, regimes: list[str], methods: list[str],
            test: str = "paired", margin_fraction: float = MARGIN_FRACTION) -> PowerResult:
    """Every comparison of :func:`comparisons` on each task's primary metric and on Δm (see the
    module docstring for the statistics)."""
    if test not in stats.TESTS:
        raise ValueError(f"unknown test {test!r}")
    primaries = [m for m in records.metrics if m.primary]
    runs = runs.copy()
    runs[DELTA] = runs_delta_m(runs, records.metrics, REFERENCE)
    columns = [(m.column, header(m)) for m in primaries] + [(DELTA, f"{DELTA} (%) ↑")]
    direction = {m.column: m.higher_is_better for m in primaries} | {DELTA: True}
    oracles = tuple(name for name, info in records.names.methods.items()
                    if ORACLES in info.sets)
    result = PowerResult(comparisons(records, regimes, methods), {}, columns, test,
                         margin_fraction, oracles)
    for comp in result.comparisons:
        a = runs[(runs["method"] == comp.a.method) & (runs["regime"] == comp.a.regime)]
        b = runs[(runs["method"] == comp.b.method) & (runs["regime"] == comp.b.regime)]
        if a.empty or b.empty:
            result.notes.append(f"{comp.a} vs {comp.b}: no finished runs of "
                                f"{comp.a if a.empty else comp.b}")
            continue
        for column, _ in columns:
            c = stats.compare(a[column].to_numpy(float), b[column].to_numpy(float),
                              direction[column], test, a["seed"].tolist(), b["seed"].tolist())
            result.effects[(comp, column)] = Effect(column, c, detectable=stats.detectable(c))
    keys = list(result.effects)
    for key, p in zip(keys, stats.holm([result.effects[k].p for k in keys]), strict=True):
        result.effects[key].p_holm = p
    _equivalence(result)
    return result


def _equivalence(result: PowerResult) -> None:
    """TOST of every comparison but the positive controls, within ±fraction × the positive
    control's |δ| on the same column and regime."""
    positive = {c.b.regime: c for c in result.of_kind(POSITIVE)}
    for (comp, column), e in result.effects.items():
        if comp.kind == POSITIVE or comp.a.regime not in positive:
            continue
        ref = result.effect(positive[comp.a.regime], column)
        if ref is None or not math.isfinite(ref.delta) or ref.delta == 0:
            continue
        e.margin = result.margin_fraction * abs(ref.delta)
        e.equivalence_p = stats.equivalence_p(e.test, e.margin)


def header(m: MetricInfo) -> str:
    return f"{m.task_abbrev or m.task} {m.label} {arrow(m.higher_is_better)}"


def _holm(e: Effect) -> str:
    return f"Holm p = {e.p_holm:.3g}"


def _null(e: Effect) -> str:
    """What a difference that is not significant still says: its power and equivalence."""
    parts = [f"smallest difference detectable at 80 % power {e.detectable:.3g}"]
    if math.isfinite(e.equivalence_p):
        verdict = "equivalent" if e.equivalent else "not shown equivalent"
        parts.append(f"{verdict} within ±{e.margin:.3g} (TOST p = {e.equivalence_p:.3g})")
    return "; ".join(parts)


def verdicts(result: PowerResult) -> list[str]:
    """The study's conclusions, one line each (what holds and what does not)."""
    lines = []
    task_columns = [c for c, _ in result.columns if c != DELTA]
    for comp in result.of_kind(POSITIVE):
        sig = [c for c in task_columns if (e := result.effect(comp, c)) and e.significant
               and e.delta > 0]
        dm = result.effect(comp, DELTA)
        if dm is None:
            continue
        ok = len(sig) == len(task_columns)
        dm_text = ("and on Δm" if dm.significant and dm.delta > 0 else "but NOT on Δm")
        lines.append(f"Positive control {comp.a} vs {comp.b}: "
                     + ("significant on every task" if ok else
                        f"significant on {len(sig)} of {len(task_columns)} tasks")
                     + f" {dm_text} (Δm {dm.delta:+.2f} [{dm.low:+.2f}, {dm.high:+.2f}], "
                     f"{_holm(dm)}; full labels better).")
    for comp in result.of_kind(NEGATIVE) + result.of_kind(VERSUS_SL):
        e = result.effect(comp, DELTA)
        if e is None:
            continue
        oracle = split_row(comp.a.method)[0] in result.oracles
        subject = "Cross-task signal (oracle)" if oracle and comp.kind == NEGATIVE else (
            "Negative control" if comp.kind == NEGATIVE else "Against SL")
        what = f"{comp.a.method} vs {comp.b.method} on {comp.a.regime}"
        numbers = f"Δm {e.delta:+.2f} [{e.low:+.2f}, {e.high:+.2f}], {_holm(e)}"
        if e.significant:
            side = "better" if e.delta > 0 else "WORSE"
            tail = " The benchmark resolves cross-task signal." if (
                oracle and comp.kind == NEGATIVE and e.delta > 0) else ""
            lines.append(f"{subject}: {what}: separated, {comp.a.method} is {side} ({numbers})."
                         + tail)
        elif math.isfinite(e.p):
            tail = (" The benchmark does NOT resolve cross-task signal at this budget."
                    if oracle and comp.kind == NEGATIVE else "")
            lines.append(f"{subject}: {what}: NOT separated ({numbers}; {_null(e)})." + tail)
        else:
            lines.append(f"{subject}: {what}: untestable (fewer than two paired seeds).")
    return lines
