"""Run selection, aggregation over seeds and the multi-task gain Δm.

Δm of a run against a baseline (Maninis et al. 2019; the design map)::

    Δm = 1/K Σ_k (-1)^{l_k} (M_k − B_k) / B_k × 100,   l_k = 1 if lower is better for task k

with :math:`M_k` the run's primary metric of task k and :math:`B_k` the baseline's mean over its
seeds. Positive Δm is better than the baseline: a lower-is-better metric (depth error) that
drops counts as a gain. Δm is computed per run and then aggregated like every other column, so
its spread over seeds is shown too.

Spread over the :math:`n` seeds of a (regime, method): ``std`` is the sample standard deviation
:math:`s` (ddof = 1); ``ci`` the half-width of the two-sided 95 % confidence interval of the mean
from the t-distribution, :math:`t_{0.975,\\,n-1} \\cdot s / \\sqrt{n}` (``scipy.stats.t.ppf``).
Both are undefined (NaN, shown as no spread) for a single seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from bench.errors import BenchError
from bench.report.frame import MetricInfo
from bench.report.names import Names, regime_sort_key

DELTA = "Δm"
INTERVALS = ("std", "ci")


@dataclass(frozen=True)
class Baseline:
    """``METHOD`` (same regime as each row, else ``full``) or ``METHOD@REGIME`` (fixed)."""

    method: str
    regime: str | None = None

    @classmethod
    def parse(cls, text: str) -> Baseline:
        method, _, regime = text.strip().partition("@")
        if not method or (regime == "" and "@" in text):
            raise BenchError(f"Bad --baseline '{text}'.", "Write METHOD or METHOD@REGIME, "
                             "e.g. --baseline stl or --baseline sl@full.")
        return cls(method, regime or None)

    def __str__(self) -> str:
        return f"{self.method}@{self.regime}" if self.regime else self.method


@dataclass
class Summary:
    """Aggregated table: one row per (regime, method)."""

    table: pd.DataFrame  # index (regime, method); columns (column, stat) with stat mean/spread/n
    metrics: list[MetricInfo]
    baseline: Baseline
    baseline_used: dict[str, str | None]  # regime → "method@regime" used for its Δm
    interval: str
    runs: pd.DataFrame  # the aggregated runs, one row each, with a Δm column
    names: Names
    notes: list[str] = field(default_factory=list)
    #: statements about the runs' setup that the caption carries (e.g. encoder initialisation)
    setup: list[str] = field(default_factory=list)

    @property
    def dataset(self) -> str:
        return self.names.dataset.name

    def rows(self) -> list[tuple[str, str]]:
        return list(self.table.index)


def select_runs(frame: pd.DataFrame, *, profile: str | None = None,
                methods: list[str] | None = None, regimes: list[str] | None = None,
                statuses: tuple[str, ...] = ("ok",)) -> tuple[pd.DataFrame, list[str]]:
    """Finished ``ok`` runs to aggregate: for each (regime, method) only the newest config group.

    Runs of an older config of the same (regime, method) are left out (never mixed) and a note
    says so; so are diverged, collapsed and failed runs (``statuses``: the ones to keep).
    """
    notes: list[str] = []
    if frame.empty:
        return frame, notes
    f = frame
    if profile:
        f = f[f["profile"] == profile]
    if methods:
        f = f[f["method"].isin(methods)]
    if regimes:
        f = f[f["regime"].isin(regimes)]
    bad = f[~f["status"].isin(statuses)]
    for (regime, method, status), grp in bad.groupby(["regime", "method", "status"]):
        notes.append(f"{method} @ {regime}: {len(grp)} {status} run(s) left out")
    f = f[f["status"].isin(statuses)]
    keep = []
    for (regime, method), grp in f.groupby(["regime", "method"], sort=False):
        newest = grp.sort_values("finished_at").iloc[-1]["group_id"]
        groups = grp["group_id"].unique()
        if len(groups) > 1:
            notes.append(f"{method} @ {regime}: showing config {newest} "
                         f"(newest of {len(groups)} configs; older runs not mixed in)")
        keep.append(grp[grp["group_id"] == newest])
    return (pd.concat(keep) if keep else f.iloc[0:0]), notes


def interval_halfwidth(values: np.ndarray, kind: str) -> float:
    """``std``: :math:`s` (ddof = 1); ``ci``: :math:`t_{0.975,n-1}\\, s/\\sqrt{n}`; NaN if n < 2."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    n = len(values)
    if kind not in INTERVALS:
        raise ValueError(f"unknown interval kind {kind!r}")
    if n < 2:
        return float("nan")
    sd = float(np.std(values, ddof=1))
    if kind == "std":
        return sd
    return float(stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n))


def delta_m(values: dict[str, float], base: dict[str, float], metrics: list[MetricInfo]) -> float:
    """Δm (percent) of one set of primary metric values against baseline means.

    ``Δm = mean_k s_k (M_k − B_k) / B_k × 100`` with ``s_k = +1`` when higher is better and
    ``s_k = −1`` when lower is better. NaN when a primary metric or its baseline is missing.
    """
    terms = []
    for m in metrics:
        if not m.primary:
            continue
        v, b = values.get(m.column), base.get(m.column)
        if v is None or b is None or not np.isfinite(v) or not np.isfinite(b) or b == 0:
            return float("nan")
        sign = 1.0 if m.higher_is_better else -1.0
        terms.append(sign * (v - b) / b * 100.0)
    return float(np.mean(terms)) if terms else float("nan")


def baseline_means(runs: pd.DataFrame, metrics: list[MetricInfo], method: str
                   ) -> dict[str, dict[str, float]]:
    """Mean over seeds of every metric of the baseline method, per regime."""
    columns = [m.column for m in metrics if m.column in runs.columns]
    out: dict[str, dict[str, float]] = {}
    for regime, grp in runs[runs["method"] == method].groupby("regime"):
        out[str(regime)] = {c: float(grp[c].mean()) for c in columns}
    return out


def baseline_regime(regime: str, baseline: Baseline, means: dict[str, dict[str, float]]
                    ) -> str | None:
    """The regime whose baseline runs a row of ``regime`` is compared with (None: none)."""
    if baseline.regime:
        return baseline.regime if baseline.regime in means else None
    if regime in means:
        return regime
    return "full" if "full" in means else None


def runs_delta_m(runs: pd.DataFrame, metrics: list[MetricInfo], baseline: Baseline,
                 means: dict[str, dict[str, float]] | None = None) -> pd.Series:
    """Δm of every run (index of ``runs``) against the baseline's mean; NaN where none."""
    means = baseline_means(runs, metrics, baseline.method) if means is None else means
    columns = [m.column for m in metrics if m.column in runs.columns]
    values = []
    for _, row in runs.iterrows():
        b = baseline_regime(str(row["regime"]), baseline, means)
        values.append(delta_m({c: row[c] for c in columns}, means[b], metrics) if b
                      else float("nan"))
    return pd.Series(values, index=runs.index, dtype=float)


def aggregate(values: np.ndarray, interval: str) -> dict[str, float]:
    """``mean`` (NaN-aware), ``spread`` (:func:`interval_halfwidth`) and ``n`` finite values."""
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    return {"mean": float(values[finite].mean()) if finite.any() else float("nan"),
            "spread": interval_halfwidth(values, interval), "n": int(finite.sum())}


def summarise(runs: pd.DataFrame, metrics: list[MetricInfo], *, baseline: Baseline,
              names: Names, interval: str = "std", notes: list[str] | None = None,
              show_methods: list[str] | None = None,
              show_regimes: list[str] | None = None) -> Summary:
    """Mean, spread and number of seeds per (regime, method) for every metric, plus Δm.

    The baseline is looked up among all of ``runs``; ``show_methods`` / ``show_regimes`` only
    restrict the rows of the table (so ``--methods xtc`` still gets its Δm against STL).
    """
    notes = list(notes or [])
    columns = [m.column for m in metrics if m.column in runs.columns]
    means = baseline_means(runs, metrics, baseline.method)
    runs = runs.copy()
    runs[DELTA] = runs_delta_m(runs, metrics, baseline, means) if len(runs) else []
    shown = runs
    if show_methods:
        shown = shown[shown["method"].isin(show_methods)]
    if show_regimes:
        shown = shown[shown["regime"].isin(show_regimes)]
    used: dict[str, str | None] = {}
    rows = {}
    for (regime, method), grp in shown.groupby(["regime", "method"]):
        b = baseline_regime(str(regime), baseline, means)
        used[str(regime)] = f"{baseline.method}@{b}" if b else None
        row: dict[tuple[str, str], float] = {}
        for c in [*columns, DELTA]:
            for stat, value in aggregate(grp[c].to_numpy(dtype=float), interval).items():
                row[(c, stat)] = value
        rows[(regime, method)] = row
    if not rows:
        table = pd.DataFrame()
    else:
        table = pd.DataFrame.from_dict(rows, orient="index")
        table.columns = pd.MultiIndex.from_tuples(table.columns)
        table.index = pd.MultiIndex.from_tuples(table.index, names=["regime", "method"])
        order = {m: i for i, m in enumerate(names.order())}
        table = table.loc[sorted(table.index, key=lambda ix: (
            regime_sort_key(ix[0]), order.get(ix[1], len(order)), ix[1]))]
    if not means:
        notes.append(f"no finished runs of baseline '{baseline.method}': Δm not computed")
    return Summary(table, [m for m in metrics if m.column in columns], baseline, used,
                   interval, shown, names, notes)
