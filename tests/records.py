"""Hand-made run records with known metric values (no training) for the report tests."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

TASKS = [
    {"name": "semantic", "primary": "mIoU", "metrics": [
        {"key": "mIoU", "label": "mIoU", "higher_is_better": True, "decimals": 2},
        {"key": "pixAcc", "label": "Pix Acc", "higher_is_better": True, "decimals": 2}]},
    {"name": "depth", "primary": "absErr", "metrics": [
        {"key": "absErr", "label": "aErr", "higher_is_better": False, "decimals": 4},
        {"key": "relErr", "label": "rErr", "higher_is_better": False, "decimals": 4}]},
    {"name": "normal", "primary": "mean", "metrics": [
        {"key": "mean", "label": "mErr", "higher_is_better": False, "decimals": 2}]},
]


def write_record(results: Path, dataset: str, method: str, regime: str, seed: int,
                 metrics: dict[str, float], *, profile: str = "quick", config_tag: str = "",
                 history: list[dict[str, float]] | None = None, status: str = "ok",
                 finished_at: str = "2026-11-25T00:00:00") -> Path:
    """Write ``results/runs/DATASET/REGIME/METHOD/…/record.json`` like the runner does.

    ``group_id`` is a function of (dataset, method, regime, profile, config_tag) and not of the
    seed, as for real runs; change ``config_tag`` to simulate a changed config.
    """
    group = hashlib.sha256(f"{dataset}|{method}|{regime}|{profile}|{config_tag}".encode()
                           ).hexdigest()
    run = hashlib.sha256(f"{group}|{seed}".encode()).hexdigest()
    folder = (Path(results) / "runs" / dataset / regime.replace(":", "-") / method
              / f"{profile}-seed{seed}-{run[:10]}")
    folder.mkdir(parents=True, exist_ok=True)
    hist = history or [{"epoch": 1, "metrics": {k: v * 0.8 for k, v in metrics.items()}},
                       {"epoch": 2, "metrics": dict(metrics)}]
    record = {
        "schema": 1, "run_id": run[:12], "group_id": group[:12], "config_hash": run,
        "spec": {"method": method, "dataset": dataset, "regime": regime, "seed": seed,
                 "profile": profile, "overrides": []},
        "config": {"regime": regime}, "tasks": TASKS, "status": status,
        "history": hist, "metrics": metrics if status == "ok" else {},
        "finished_at": finished_at,
    }
    (folder / "record.json").write_text(json.dumps(record))
    return folder


def metrics_of(miou: float, abserr: float, mean: float) -> dict[str, float]:
    """The primary metrics (plus a secondary one per task, derived) of a fake run."""
    return {"semantic/mIoU": miou, "semantic/pixAcc": miou + 30.0,
            "depth/absErr": abserr, "depth/relErr": abserr / 4, "normal/mean": mean}
