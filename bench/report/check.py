"""``bench check``: compare finished runs with reference records, cell by cell, and gate on it.

For every (regime, method) of the checked methods and every compared column (the primary metric
of each task, and Δm), with candidate runs :math:`a_1..a_n` and reference runs :math:`b_1..b_m`
of the *same config* (equal ``group_id``: the resolved config minus the seed):

* the signed change is :math:`\\delta = \\pm(\\bar a - \\bar b)`, with ``+`` where higher is better,
  so :math:`\\delta > 0` is always an improvement;
* it is *within tolerance* when :math:`|\\bar a - \\bar b| \\le \\tau` (``τ`` absolute, or
  relative to :math:`|\\bar b|`);
* otherwise it is *significant* when the two-sample test over seeds rejects equal means at level
  α: Welch's t-test (``scipy.stats.ttest_ind(equal_var=False)``) or Mann–Whitney U
  (``scipy.stats.mannwhitneyu``). With a single seed on either side there is nothing to test and
  the tolerance alone decides (as asv's ``compare`` does without statistics); when both sides are
  constant (deterministic reruns), any difference is significant;
* the verdict is ``better`` / ``worse`` for a significant change beyond the tolerance, ``same``
  otherwise; ``not comparable`` when the configs differ (e.g. another profile value or code
  option changed the config hash), ``missing`` when the reference has no runs of that cell.

Δm of both sides is computed against the *reference's* baseline means, so a change of the
baseline's own code does not move the Δm of the checked method. Only ``worse`` cells make
``bench check`` exit 1 (``--strict`` adds ``not comparable`` and ``missing``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text
from scipy import stats

from bench.errors import BenchError
from bench.records.record import Record, config_differences
from bench.report.aggregate import DELTA, baseline_means, runs_delta_m, select_runs
from bench.report.frame import MetricInfo, RecordSet, load_records
from bench.report.names import arrow
from bench.report.query import TableRequest, build_summary

BETTER, WORSE, SAME = "better", "worse", "same"
INCOMPARABLE, MISSING = "not comparable", "missing"
DEFAULT_METRIC_TOLERANCE = "2%"
DEFAULT_DELTA_TOLERANCE = "1"


@dataclass(frozen=True)
class Tolerance:
    """Allowed change: absolute ``value``, or ``value`` % of the reference mean."""

    value: float
    relative: bool

    @classmethod
    def parse(cls, text: str) -> Tolerance:
        text = text.strip()
        relative = text.endswith("%")
        try:
            value = float(text[:-1] if relative else text)
        except ValueError:
            raise BenchError(f"Bad tolerance value '{text}'.",
                             "Write a number (absolute) or a percentage, e.g. 0.5 or 2%.") from None
        if not math.isfinite(value) or value < 0:
            raise BenchError(f"Bad tolerance value '{text}': it must be a finite number ≥ 0.")
        return cls(value, relative)

    def allows(self, candidate: float, reference: float) -> bool:
        limit = self.value / 100 * abs(reference) if self.relative else self.value
        return abs(candidate - reference) <= limit + 1e-12

    def __str__(self) -> str:
        return f"{self.value:g}%" if self.relative else f"{self.value:g}"


def parse_tolerances(items: list[str]) -> dict[str, Tolerance]:
    """``["2%", "depth=0.01", "dm=0.5"]`` → tolerance per key; ``"*"`` metrics, ``"dm"`` Δm.

    A key is a metric column (``semantic/mIoU``), a task (``depth``: its metrics) or ``dm``.
    """
    out = {"*": Tolerance.parse(DEFAULT_METRIC_TOLERANCE),
           "dm": Tolerance.parse(DEFAULT_DELTA_TOLERANCE)}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            key, value = "*", item
        key = key.strip()
        if not key or not re.fullmatch(r"[\w\-/*]+", key):
            raise BenchError(f"Bad --tolerance '{item}'.",
                             "Write VALUE, VALUE%, or KEY=VALUE[%] with KEY a metric "
                             "(semantic/mIoU), a task (depth) or dm.")
        out["dm" if key.lower() in ("dm", "δm") else key] = Tolerance.parse(value)
    return out


@dataclass
class CheckOptions:
    tolerances: dict[str, Tolerance] = field(default_factory=lambda: parse_tolerances([]))
    alpha: float = 0.05
    test: str = "welch"
    fail_on_incomparable: bool = False
    all_metrics: bool = False
    #: a check that compared no cell passes (otherwise it fails: a gate that cannot fail)
    allow_missing: bool = False

    def tolerance(self, column: str) -> Tolerance:
        if column == DELTA:
            return self.tolerances["dm"]
        task = column.split("/")[0]
        return self.tolerances.get(column) or self.tolerances.get(task) or self.tolerances["*"]


@dataclass
class Verdict:
    """One cell: candidate vs reference on one column of one (regime, method)."""

    regime: str
    method: str
    column: str
    status: str
    candidate: float = float("nan")
    reference: float = float("nan")
    n_candidate: int = 0
    n_reference: int = 0
    p_value: float = float("nan")
    reason: str = ""


@dataclass
class CheckResult:
    verdicts: list[Verdict]
    columns: list[tuple[str, str, bool, int]]  # (column, header, higher_is_better, decimals)
    against: Path
    options: CheckOptions
    notes: list[str] = field(default_factory=list)
    #: why nothing was compared, when nothing was (one line per checked regime and method)
    why_nothing: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(v.status == status for v in self.verdicts)

    def compared(self) -> int:
        """The cells that were compared (better, worse or same)."""
        return sum(v.status in (BETTER, WORSE, SAME) for v in self.verdicts)

    def failed(self, options: CheckOptions | None = None) -> bool:
        """A regression, a cell not comparable or missing under ``--strict``, or no cell
        compared at all (unless ``--allow-missing``)."""
        options = options or self.options
        bad = {WORSE} | ({INCOMPARABLE, MISSING} if options.fail_on_incomparable else set())
        nothing = not self.compared() and not options.allow_missing
        return nothing or any(v.status in bad for v in self.verdicts)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([v.__dict__ for v in self.verdicts])


def two_sample_p(a: np.ndarray, b: np.ndarray, test: str) -> float:
    """p-value of equal means (Welch) / equal distributions (Mann–Whitney); NaN if untestable."""
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    if np.ptp(a) == 0 and np.ptp(b) == 0:  # both deterministic: any difference is real
        return 0.0 if a[0] != b[0] else 1.0
    if test == "mannwhitney":
        return float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def compare_cell(a: np.ndarray, b: np.ndarray, higher_is_better: bool, tolerance: Tolerance,
                 alpha: float, test: str) -> tuple[str, float, str]:
    """Verdict, p-value and a reason for candidate values ``a`` vs reference values ``b``."""
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if not len(a) or not len(b):
        return MISSING, float("nan"), "no finite values"
    ma, mb = float(a.mean()), float(b.mean())
    p = two_sample_p(a, b, test)
    if tolerance.allows(ma, mb):
        return SAME, p, f"within tolerance {tolerance}"
    if math.isfinite(p) and p >= alpha:
        return SAME, p, f"not significant (p = {p:.3g} ≥ {alpha:g})"
    gain = (ma - mb) if higher_is_better else (mb - ma)
    reason = (f"beyond tolerance {tolerance}, p = {p:.3g}" if math.isfinite(p)
              else f"beyond tolerance {tolerance} (single seed: not tested)")
    return (BETTER if gain > 0 else WORSE), p, reason


def _columns(metrics: list[MetricInfo], all_metrics: bool) -> list[tuple[str, str, bool, int]]:
    cols = [(m.column, f"{m.task_abbrev or m.task} {m.label} {arrow(m.higher_is_better)}",
             m.higher_is_better, m.decimals) for m in metrics if all_metrics or m.primary]
    return [*cols, (DELTA, f"{DELTA} (%) {arrow(True)}", True, 2)]


def run_check(request: TableRequest, against: Path, options: CheckOptions) -> CheckResult:
    """Compare the selected runs of ``request`` with the records under ``against``."""
    if not request.methods:
        raise BenchError("bench check needs --method NAME (the method(s) to check).")
    summary, records = build_summary(request)
    known = {m.column for m in summary.metrics} | {m.task for m in summary.metrics}
    unknown = sorted(set(options.tolerances) - known - {"*", "dm"})
    if unknown:
        raise BenchError(f"--tolerance names '{unknown[0]}', which is no metric or task of "
                         f"{request.dataset}.",
                         f"Keys: dm, a task ({', '.join(sorted({m.task for m in summary.metrics}))}"
                         f") or a metric ({', '.join(sorted(m.column for m in summary.metrics))}).")
    against = Path(against)
    if not against.is_dir():
        raise BenchError(f"Reference folder {against} does not exist.",
                         "Point --against at a results folder (one holding runs/), e.g. "
                         "results/reference.")
    candidate = summary.runs
    reference = load_records(against, request.dataset)
    if reference.frame.empty:
        raise BenchError(f"No reference records of {request.dataset} under {against}.",
                         f"Expected {against}/runs/{request.dataset}/…/record.json; write them with "
                         f"bench run --results {against} ….")
    profiles = sorted(set(candidate["profile"].astype(str)))
    ref_runs, notes = select_runs(reference.frame, profile=profiles[0] if len(profiles) == 1
                                  else None)
    metrics = summary.metrics or reference.metrics
    columns = _columns(metrics, options.all_metrics)
    means = baseline_means(ref_runs, metrics, summary.baseline.method)
    if not means:
        notes.append(f"the reference has no runs of the Δm baseline '{summary.baseline.method}':"
                     " Δm not compared")
    cand = candidate.copy()
    ref = ref_runs.copy()
    cand[DELTA] = runs_delta_m(cand, metrics, summary.baseline, means) if means else np.nan
    ref[DELTA] = runs_delta_m(ref, metrics, summary.baseline, means) if means else np.nan
    verdicts: list[Verdict] = []
    for (regime, method), grp in cand.groupby(["regime", "method"], sort=False):
        r = ref[(ref["regime"] == regime) & (ref["method"] == method)]
        for column, _, higher, _ in columns:
            v = Verdict(str(regime), str(method), column, MISSING,
                        n_candidate=int(np.isfinite(grp[column].to_numpy(float)).sum())
                        if column in grp else 0)
            if column in grp:
                v.candidate = float(np.nanmean(grp[column].to_numpy(float)))
            if r.empty:
                v.reason = "no reference runs of this regime and method"
            elif set(grp["group_id"]) != set(r["group_id"]):
                v.status = INCOMPARABLE
                v.reason = (f"config differs (candidate {','.join(sorted(set(grp['group_id'])))}"
                            f" vs reference {','.join(sorted(set(r['group_id'])))})")
                v.reference = float(np.nanmean(r[column].to_numpy(float))) if column in r else v.reference
                v.n_reference = len(r)
            elif column not in grp or column not in r:
                v.reason = "metric absent"
            else:
                a, b = grp[column].to_numpy(float), r[column].to_numpy(float)
                v.reference = float(np.nanmean(b)) if np.isfinite(b).any() else float("nan")
                v.n_reference = int(np.isfinite(b).sum())
                v.status, v.p_value, v.reason = compare_cell(a, b, higher, options.tolerance(column),
                                                             options.alpha, options.test)
            verdicts.append(v)
    result = CheckResult(verdicts, columns, against, options, summary.notes + notes)
    if not result.compared():
        result.why_nothing = why_nothing_compared(cand, reference, records.by_run_id())
    return result


def why_nothing_compared(candidate: pd.DataFrame, reference: RecordSet,
                         candidates: dict[str, Record]) -> list[str]:
    """For each checked (regime, method): why the reference has no comparable runs of it."""
    ref = reference.frame
    refs = reference.by_run_id()
    out = []
    for (regime, method), grp in candidate.groupby(["regime", "method"], sort=False):
        profiles = sorted(set(grp["profile"].astype(str)))
        same_method = ref[ref["method"] == method]
        here = same_method[same_method["regime"] == regime]
        if same_method.empty:
            out.append(f"{method} @ {regime}: the reference holds no runs of {method}")
        elif here.empty:
            out.append(f"{method} @ {regime}: the reference's runs of {method} are of regimes "
                       f"{', '.join(sorted(set(same_method['regime'].astype(str))))}")
        elif not set(here["profile"].astype(str)) & set(profiles):
            out.append(f"{method} @ {regime}: the reference's runs are of profile "
                       f"{', '.join(sorted(set(here['profile'].astype(str))))}, the checked "
                       f"runs of {', '.join(profiles)}")
        else:
            a = candidates.get(str(grp.iloc[0]["run_id"]))
            b = refs.get(str(here[here["profile"].isin(profiles)].iloc[0]["run_id"]))
            keys = config_differences(a.config, b.config) if a and b else []
            out.append(f"{method} @ {regime}: another config than the reference's (config hash "
                       f"differs" + (f": {', '.join(keys)}" if keys else "") + ")")
    return out


STYLE = {BETTER: "green", WORSE: "bold red", SAME: "", INCOMPARABLE: "yellow", MISSING: "dim"}


def _cell_text(v: Verdict, decimals: int) -> Text:
    if v.status in (MISSING,):
        return Text("missing", style=STYLE[MISSING])
    if v.status == INCOMPARABLE:
        return Text("not comparable", style=STYLE[INCOMPARABLE])
    delta = v.candidate - v.reference
    p = f", p={v.p_value:.2g}" if math.isfinite(v.p_value) else ""
    return Text(f"{v.status} {delta:+.{decimals}f}{p}", style=STYLE[v.status])


def render_check(result: CheckResult, console: Console) -> None:
    """Rich table (one row per regime/method, one cell per column) and the verdict line."""
    table = Table(title=f"bench check against {result.against}", title_justify="left")
    table.add_column("Regime")
    table.add_column("Method")
    for _, header, _, _ in result.columns:
        table.add_column(header, justify="right")
    rows: dict[tuple[str, str], dict[str, Verdict]] = {}
    for v in result.verdicts:
        rows.setdefault((v.regime, v.method), {})[v.column] = v
    for (regime, method), cells in rows.items():
        table.add_row(regime, method, *[_cell_text(cells[c], d) if c in cells else Text("")
                                        for c, _, _, d in result.columns])
    console.print(table)
    o = result.options
    tol = ", ".join(f"{k}={t}" for k, t in o.tolerances.items())
    console.print(f"Cells: change of the candidate mean vs the reference mean (candidate − "
                  f"reference); 'worse' = beyond tolerance ({tol}) and significant "
                  f"({'Welch t-test' if o.test == 'welch' else 'Mann–Whitney U'}, α = {o.alpha:g}) "
                  "over seeds; Δm against the reference's baseline.", highlight=False)
    for note in result.notes:
        console.print(f"Note: {note}", highlight=False)
    said: set[tuple[str, str]] = set()
    for v in result.verdicts:
        if v.status == WORSE:
            console.print(f"{v.method} @ {v.regime}, {v.column}: worse, {v.candidate:.4g} vs "
                          f"{v.reference:.4g} ({v.reason})", highlight=False)
        elif v.status == INCOMPARABLE and (v.regime, v.method) not in said:
            said.add((v.regime, v.method))
            console.print(f"{v.method} @ {v.regime}: not comparable, {v.reason}", highlight=False)
    counts = ", ".join(f"{result.count(s)} {s}" for s in (BETTER, WORSE, SAME, INCOMPARABLE, MISSING)
                       if result.count(s))
    if not result.compared():
        for line in result.why_nothing:
            console.print(f"Not compared: {line}", highlight=False)
        console.print("Nothing was compared, so this check says nothing. Write reference "
                      "records with the same command and settings (bench run … --results "
                      "REFERENCE), point --against at them, or select the runs they hold "
                      "(--profile, --set, --regimes); --allow-missing lets a check that "
                      "compares nothing pass.", highlight=False)
        verdict = "OK (nothing compared, --allow-missing)" if not result.failed() else (
            "NOTHING COMPARED")
    else:
        verdict = "REGRESSION" if result.failed() else "OK"
    console.print(f"{verdict}: {counts}.", style="bold red" if result.failed() else "bold green",
                  highlight=False)
