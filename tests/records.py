"""Hand-made run records with known metric values (no training) for the report tests.

They are built through :class:`bench.records.record.Record` and written where the store puts real ones,
so the tests read exactly what the runner writes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from bench.labels.regimes import parse_regime
from bench.metadata import DatasetInfo, MethodInfo, WeightingInfo, row_key
from bench.records.record import Record, TaskEntry
from bench.records.store import record_dir
from bench.records.store import write_record as store_record

TASKS = [
    {"name": "semantic", "primary": "mIoU", "title": "Segmentation", "abbrev": "Seg.",
     "metrics": [
         {"key": "mIoU", "label": "mIoU", "higher_is_better": True, "decimals": 2, "unit": "%"},
         {"key": "pixAcc", "label": "Pix Acc", "higher_is_better": True, "decimals": 2,
          "unit": "%"}]},
    {"name": "depth", "primary": "absErr", "title": "Depth", "abbrev": "Depth", "metrics": [
        {"key": "absErr", "label": "aErr", "higher_is_better": False, "decimals": 4},
        {"key": "relErr", "label": "rErr", "higher_is_better": False, "decimals": 4}]},
    {"name": "normal", "primary": "mean", "title": "Surface Normal", "abbrev": "Norm.",
     "metrics": [{"key": "mean", "label": "mErr", "higher_is_better": False, "decimals": 2,
                  "unit": "°"}]},
]

#: the metadata the paper's methods register (what their records carry)
INFO = {
    "stl": ("STL", "STL", "STL", 10), "sl": ("Supervised Learning", "SL", "SL", 20),
    "ssl": ("Semi-supervised Learning", "SSL", "SSL", 25),
    "perceptual_map": ("Perceptual-Map", "Perceptual-Map", "Perceptual-Map", 30),
    "direct_map": ("Direct-Map", "Direct-Map", "Direct-Map", 40),
    "contrastive": ("Contrastive-Loss", "Contrastive", "Contrastive-Loss", 50),
    "discriminator": ("Discriminator-Loss", "Discrim.", "Discriminator-Loss", 60),
    "xtc": ("Cross-task (XTC)", "XTC", "Ours", 70),
    "jtr": ("Joint-Task Regularization (JTR)", "JTR", "JTR", 80),
    "mtan": ("MTAN", "MTAN", "MTAN", 22), "xtask": ("X-task", "X-task", "X-task", 23),
}
#: the metadata the weightings register: display, paper name, order
WEIGHTINGS = {"equal": ("Equal", None, 0), "uncertainty": ("Uncertainty", "Uncertainty", 10),
              "dwa": ("DWA", "DWA", 20), "gradnorm": ("GradNorm", "GradNorm", 30),
              "mgda": ("MGDA", "MGDA", 40), "upgrad": ("UPGrad", "UPGrad", 100)}
DATASETS = {"nyuv2": "NYUv2", "cityscapes": "Cityscapes", "synthetic-nyuv2": "synthetic NYUv2"}


def method_info(method: str) -> MethodInfo:
    display, short, paper, order = INFO.get(method, (method, method, None, 100))
    control = method.removesuffix("-shuffled") if method.endswith("-shuffled") else None
    return MethodInfo(summary="", display=display, short=short, family=method, colour="",
                      order=order, paper_name=paper, mapped_figure=method == "xtc", name=method,
                      control_of=control, paper_aliases=("MTL",) if method == "sl" else (),
                      sets=("power", "oracles") if method == "oracle-geometry" else ())


def weighting_info(name: str) -> WeightingInfo:
    display, paper, order = WEIGHTINGS[name]
    return WeightingInfo(summary="", display=display, paper_name=paper, order=order, name=name)


def write_record(results: Path, dataset: str, method: str, regime: str, seed: int,
                 metrics: dict[str, float], *, profile: str = "quick", config_tag: str = "",
                 history: list[dict[str, float]] | None = None, status: str = "ok",
                 finished_at: str = "2026-11-25T00:00:00", config: dict | None = None,
                 weighting: str = "equal") -> Path:
    """Write a record where the store puts the one of that run; return its folder.

    ``group_id`` is a function of (dataset, method, regime, profile, config_tag) and not of the
    seed, as for real runs; change ``config_tag`` to simulate a changed config.
    """
    row = row_key(method, weighting)
    group = hashlib.sha256(f"{dataset}|{row}|{regime}|{profile}|{config_tag}".encode()
                           ).hexdigest()
    run = hashlib.sha256(f"{group}|{seed}".encode()).hexdigest()
    folder = record_dir(results, dataset, parse_regime(regime).slug, row, profile, seed, run)
    hist = history or [{"epoch": 1, "metrics": {k: v * 0.8 for k, v in metrics.items()}},
                       {"epoch": 2, "metrics": dict(metrics)}]
    record = Record(
        run_id=run[:12], group_id=group[:12], config_hash=run,
        spec={"method": method, "dataset": dataset, "regime": regime, "seed": seed,
              "profile": profile, "overrides": [], "weighting": weighting},
        config={"regime": regime, **(config or {})},
        tasks=[TaskEntry.from_dict(t) for t in TASKS], status=status,
        method_info=method_info(method), weighting_info=weighting_info(weighting),
        dataset_info=DatasetInfo(dataset, DATASETS.get(dataset, dataset), "quick"),
        history=hist, metrics=metrics if status in ("ok", "collapsed") else {},
        finished_at=finished_at,
        error=None if status == "ok" else {"type": "Error", "message": f"the run {status}"})
    store_record(folder, record)
    return folder


def metrics_of(miou: float, abserr: float, mean: float) -> dict[str, float]:
    """The primary metrics (plus a secondary one per task, derived) of a fake run."""
    return {"semantic/mIoU": miou, "semantic/pixAcc": miou + 30.0,
            "depth/absErr": abserr, "depth/relErr": abserr / 4, "normal/mean": mean}
