"""What a report command asks for → validated selection → :class:`Summary`.

Every mistake a user can make on the command line (no records, unknown method, regime, profile
or baseline) becomes a :class:`~bench.errors.BenchError` with a hint here, before any output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench.errors import BenchError, unknown_name
from bench.report.aggregate import Baseline, Summary, select_runs, summarise
from bench.report.frame import RecordSet, load_records, overrides_text, runs_root
from bench.report.protocol import encoder_statements

#: Δm baseline when the default (STL) has no runs: SL trained with every label
FALLBACK_BASELINE = Baseline("sl", "full")


@dataclass
class TableRequest:
    """The selection of a table, a figure or a report."""

    dataset: str
    results: Path
    methods: list[str] | None = None  # rows: ``sl``, ``sl+dwa``
    regimes: list[str] | None = None
    profile: str | None = None  # None: the dataset's default (or the only one present); "any"
    baseline: str = "stl"
    baseline_explicit: bool = False
    interval: str = "std"
    notes: list[str] = field(default_factory=list)
    #: only runs of these task weightings (``--weighting``), seeds (``--seeds``)
    weightings: list[str] | None = None
    seeds: list[int] | None = None
    #: only runs made with exactly these ``--set`` overrides (``None``: any)
    overrides: list[tuple[str, object]] | None = None


def restrict(frame: object, request: TableRequest) -> object:
    """The runs of a records frame that the request's seeds and overrides select (its methods
    and weightings choose the rows shown, :func:`shown_rows`; the baseline may be another)."""
    f = frame
    if request.seeds is not None:
        f = f[f["seed"].isin(request.seeds)]
    if request.overrides is not None:
        f = f[f["overrides"] == overrides_text(request.overrides)]
    return f


def shown_rows(request: TableRequest, runs: object) -> list[str] | None:
    """The table rows the request shows: its methods (rows), of its weightings; None: all."""
    if request.weightings is None:
        return request.methods
    rows = request.methods or list(dict.fromkeys(runs["method"]))
    weighting = dict(zip(runs["method"], runs["weighting"], strict=True))
    return [r for r in rows if weighting.get(r, r.partition("+")[2] or "equal")
            in request.weightings]


def datasets_with_records(results: Path) -> list[str]:
    base = runs_root(results) / "runs"
    return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []


def check_dataset(dataset: str, records: RecordSet, results: Path) -> None:
    """No readable records of ``dataset`` → an error naming the datasets that have some."""
    if records.records:
        return
    present = datasets_with_records(results)
    unreadable = (f" ({len(records.problems)} record files could not be read: "
                  f"{records.problems[0][0]}: {records.problems[0][1]})" if records.problems
                  else "")
    if present and dataset not in present:
        raise unknown_name("dataset", dataset, present)
    raise BenchError(f"No run records of {dataset} under "
                     f"{runs_root(results) / 'runs' / dataset}{unreadable}.",
                     f"Train some first (bench run --dataset {dataset} …) or point --results "
                     "at the folder that holds them.")


def canonical_regimes(regimes: list[str] | None) -> list[str] | None:
    """Regime strings as records store them (``ratio:1.0:9`` → ``ratio:1:9``)."""
    if not regimes:
        return None
    from bench.labels.regimes import parse_regime

    return [parse_regime(r).name for r in regimes]


def resolve_profile(request: TableRequest, records: RecordSet,
                    statuses: tuple[str, ...] = ("ok",)) -> str | None:
    """The profile whose runs (of ``statuses``) are shown; None means every profile."""
    frame = records.frame
    ok = frame[frame["status"].isin(statuses)]
    present = sorted(str(p) for p in ok["profile"].dropna().unique())
    if request.profile == "any":
        return None
    if request.profile:
        if request.profile not in present:
            ended = frame[frame["profile"] == request.profile]["status"].value_counts()
            why = (" (its runs ended " + ", ".join(f"{k}: {v}" for k, v in ended.items()) + ")"
                   if len(ended) else "")
            raise BenchError(f"No finished runs of {request.dataset} with profile "
                             f"'{request.profile}'{why}.",
                             f"Profiles with runs: {', '.join(present) or 'none'}.")
        return request.profile
    default = records.names.dataset.default_profile or None
    if default in present:
        return default
    if len(present) == 1:
        if default:
            request.notes.append(f"no runs of the default profile '{default}'; showing "
                                 f"profile '{present[0]}'")
        return present[0]
    if not present:
        raise BenchError(f"No finished (status ok) runs of {request.dataset} under "
                         f"{request.results}.", "Every record there failed or diverged.")
    raise BenchError(f"Runs of {request.dataset} exist for several profiles "
                     f"({', '.join(present)}) but not for its default '{default}'.",
                     "Choose one with --profile NAME (or --profile any to mix them).")


def check_names(kind: str, wanted: list[str] | None, known: set[str]) -> None:
    for name in wanted or []:
        if name not in known:
            raise unknown_name(kind, name, known)


def build_summary(request: TableRequest, records: RecordSet | None = None
                  ) -> tuple[Summary, RecordSet]:
    """Validate ``request`` against the records and aggregate them."""
    records = records if records is not None else load_records(request.results, request.dataset)
    check_dataset(request.dataset, records, request.results)
    frame = restrict(records.frame, request)
    present_methods = set(frame["method"].dropna().astype(str))
    check_names("method", request.methods, present_methods)
    baseline = Baseline.parse(request.baseline)
    if request.baseline_explicit:
        check_names("baseline method", [baseline.method], present_methods)
    regimes = canonical_regimes(request.regimes)
    base_regime = canonical_regimes([baseline.regime])[0] if baseline.regime else None
    baseline = Baseline(baseline.method, base_regime)
    profile = resolve_profile(request, records)
    runs, notes = select_runs(frame, profile=profile)
    notes = request.notes + notes
    show = shown_rows(request, runs)
    shown = runs
    if show is not None:
        shown = shown[shown["method"].isin(show)]
    if regimes:
        shown = shown[shown["regime"].isin(regimes)]
    where = f"{request.dataset}" + (f" (profile {profile})" if profile else "")
    if shown.empty:
        have = sorted({f"{m}@{r}" for m, r in zip(runs["method"], runs["regime"], strict=True)})
        raise BenchError(f"No finished runs of {where} match "
                         f"--methods {','.join(request.methods or ['*'])} "
                         f"--regimes {','.join(regimes or ['*'])}.",
                         f"Runs present (method@regime): {', '.join(have) or 'none'}.")
    for name in request.methods or []:
        if name not in set(shown["method"]):
            notes.append(f"no finished runs of '{name}' in {where}")
    for name in regimes or []:
        if name not in set(shown["regime"]):
            notes.append(f"no finished runs in regime '{name}'")
    base_runs = runs[runs["method"] == baseline.method]
    if baseline.regime:
        base_runs = base_runs[base_runs["regime"] == baseline.regime]
    if not request.baseline_explicit and base_runs.empty:
        fallback = runs[(runs["method"] == FALLBACK_BASELINE.method)
                        & (runs["regime"] == FALLBACK_BASELINE.regime)]
        if not fallback.empty:
            notes.append(f"no runs of the default baseline {baseline}: Δm is against "
                         f"{FALLBACK_BASELINE} instead")
            baseline, base_runs = FALLBACK_BASELINE, fallback
    if request.baseline_explicit and base_runs.empty:
        have = sorted({f"{r}" for r in runs[runs["method"] == baseline.method]["regime"]})
        raise BenchError(f"No finished runs of the baseline {baseline} in {where}.",
                         f"Regimes with runs of {baseline.method}: {', '.join(have) or 'none'}. "
                         "Train it, or name another with --baseline METHOD[@REGIME].")
    for path, problem in records.problems:
        notes.append(f"unreadable record left out: {path} ({problem})")
    summary = summarise(runs, records.metrics, baseline=baseline, names=records.names,
                        interval=request.interval, notes=notes, show_methods=show,
                        show_regimes=regimes)
    summary.setup = encoder_statements(records.records, set(shown["run_id"]))
    return summary, records
