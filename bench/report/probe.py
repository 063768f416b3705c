"""The collapse probe of the cross-task runs, per (regime, method) over seeds, from records alone.

Each cross-task record's history holds, per epoch, the probe its method logged
(:mod:`bench.records.collapse`): the mean distance of each row's own pair (``own``), of its pairs
with other images (``rolled``), their difference (the own-pair *advantage*: 0 for a mapping
whose output no longer depends on its input) and an in-batch retrieval accuracy against its
chance level. This table gives, for each (regime, method), the seeds' mean of the last epoch's
values, the advantage of the first epoch beside it (a collapse shows as a fall towards 0), and
in how many seeds the last epoch's advantage lies within noise (:func:`collapse_reason`). A
negative control's pairs carry no relation, so its advantage is expected near 0 and its runs
are never marked ``collapsed``; the same count is shown for it, for comparison.

It reads no metric: the protocol search reads XTC's probe without looking at its accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.records.collapse import (
    ADVANTAGE,
    CHANCE,
    OWN,
    RETRIEVAL,
    ROLLED,
    collapse_reason,
    last_probe,
)
from bench.records.record import Record
from bench.report.frame import RecordSet

#: the statuses whose runs the probe table reads (a collapsed run finished, with its history)
PROBED = ("ok", "collapsed")


@dataclass
class ProbeRow:
    """The probe of one (regime, method) over its seeds."""

    regime: str
    method: str
    seeds: list[int]
    epoch: int
    own: float
    rolled: float
    advantage: float
    advantage_low: float
    advantage_high: float
    first_advantage: float
    retrieval: float
    chance: float
    within_noise: int
    recorded_collapsed: int
    control: bool


def first_probe(history: list[dict]) -> float:
    """The advantage of the first epoch that logged the probe (NaN when none did)."""
    for entry in history:
        train = entry.get("train") or {}
        if ADVANTAGE in train:
            return float(train[ADVANTAGE])
    return float("nan")


def probe_runs(records: RecordSet, frame: pd.DataFrame | None = None, *,
               profile: str | None = None, methods: list[str] | None = None,
               regimes: list[str] | None = None) -> list[Record]:
    """The finished records (``ok`` or ``collapsed``) of ``frame`` (default: all of
    ``records``) with a probe, newest config per (regime, method) as tables choose them."""
    from bench.report.aggregate import select_runs

    frame, _ = select_runs(records.frame if frame is None else frame, profile=profile,
                           methods=methods, regimes=regimes, statuses=PROBED)
    by_id = records.by_run_id()
    out = [by_id[i] for i in frame["run_id"]] if not frame.empty else []
    return [r for r in out if last_probe(r.history) is not None]


def probe_rows(runs: list[Record], order: list[str] | None = None) -> list[ProbeRow]:
    """One :class:`ProbeRow` per (regime, method) of ``runs`` (see the module docstring)."""
    groups: dict[tuple[str, str], list[Record]] = {}
    for r in runs:
        groups.setdefault((r.regime, r.row), []).append(r)
    rows = []
    for (regime, method), group in groups.items():
        group.sort(key=lambda r: r.seed)
        last = [last_probe(r.history) for r in group]
        adv = np.array([p[ADVANTAGE] for p in last])

        def mean(key: str, values: list[dict] = last) -> float:
            got = [p[key] for p in values if key in p]
            return float(np.mean(got)) if got else float("nan")

        rows.append(ProbeRow(
            regime, method, [r.seed for r in group], int(max(p["epoch"] for p in last)),
            mean(OWN), mean(ROLLED), float(adv.mean()), float(adv.min()), float(adv.max()),
            float(np.nanmean([first_probe(r.history) for r in group])),
            mean(RETRIEVAL), mean(CHANCE), sum(bool(collapse_reason(r.history)) for r in group),
            sum(r.status == "collapsed" for r in group), group[0].method_info.control_of is not None))
    rank = {m: i for i, m in enumerate(order or [])}
    rows.sort(key=lambda x: (x.regime, rank.get(x.method, len(rank)), x.method))
    return rows


def probe_frame(rows: list[ProbeRow]) -> pd.DataFrame:
    """The rows as a DataFrame (for Markdown and CSV)."""
    return pd.DataFrame([{
        "regime": r.regime, "method": r.method, "n": len(r.seeds), "epoch": r.epoch,
        "own": r.own, "rolled": r.rolled, "advantage": r.advantage,
        "advantage_min": r.advantage_low, "advantage_max": r.advantage_high,
        "advantage_epoch1": r.first_advantage, "retrieval": r.retrieval, "chance": r.chance,
        "within_noise": r.within_noise, "collapsed": r.recorded_collapsed} for r in rows])


def verdict(row: ProbeRow) -> str:
    """One line: does the method's mapping still tell its inputs apart?"""
    seeds = len(row.seeds)
    retrieval = (f", retrieval {row.retrieval:.2f} against chance {row.chance:.2f}"
                 if math.isfinite(row.retrieval) else "")
    numbers = (f"own-pair advantage {row.advantage:.3g} (seeds {row.advantage_low:.3g} … "
               f"{row.advantage_high:.3g}; epoch 1: {row.first_advantage:.3g}){retrieval}")
    if row.control:
        return (f"{row.method}@{row.regime} (a negative control, its pairs carry no relation): "
                f"{numbers}; within noise in {row.within_noise} of {seeds} seeds.")
    if row.within_noise == 0:
        return (f"{row.method}@{row.regime}: not collapsed in any of {seeds} seeds ({numbers}).")
    return (f"{row.method}@{row.regime}: COLLAPSED (within noise) in {row.within_noise} of "
            f"{seeds} seeds ({numbers}); {row.recorded_collapsed} recorded as collapsed.")
