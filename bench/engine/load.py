"""Load the final model of a finished run from its record folder (for figures, inspection)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from bench.errors import BenchError
from bench.registry import get_dataset, load_plugins
from bench.store import read_record


def load_run_model(directory: Path, device: str = "cpu") -> tuple[torch.nn.Module, dict[str, Any]]:
    """The trained method (eval mode) of the run in ``directory`` and its record."""
    from bench.engine.build import build_method

    load_plugins()
    directory = Path(directory)
    record = read_record(directory)
    if record is None:
        raise BenchError(f"No record.json in {directory}.")
    weights = directory / record.get("weights", "model_final.pth")
    if record.get("status") != "ok" or not weights.is_file():
        raise BenchError(f"Run {directory} has no final weights (status {record.get('status')}).",
                         "Only finished runs keep model_final.pth.")
    tasks = get_dataset(record["spec"]["dataset"]).build_tasks()
    model = build_method(record["config"], tasks)
    state = torch.load(weights, map_location=device, weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.to(device).eval(), record


def validation_set(record: dict[str, Any], data_root: Path | None = None) -> Any:
    """The validation split of a record's dataset, at the run's resolution (no augmentation)."""
    load_plugins()
    ds = get_dataset(record["spec"]["dataset"])
    root = Path(data_root) / ds.name if data_root else Path(
        record["config"]["execution"]["data_root"])
    return ds(root, "val", size=tuple(record["config"]["dataset"]["size"]))
