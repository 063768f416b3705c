"""A new task is one class: a toy task defined in this file alone trains with SL and XTC.

The task (``bright``: is a pixel brighter than 0.5?) and a dataset adapter that uses it live here
and nowhere else; the harness's data loading, augmentation, losses, mappings, metrics, records,
figure data and tables handle it through the :class:`~bench.tasks.Task` interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric

from bench.cli import main
from bench.data.base import DenseDataset
from bench.records.store import iter_records
from bench.registry import DATASETS, register_dataset, unregister
from bench.tasks import MetricSpec, Task
from bench.tasks.semantic import SemanticTask


class BrightAccuracy(BaseMetric):
    def __init__(self, task: str) -> None:
        super().__init__(prefix=task)
        self.task = task

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for s, label in zip(data_samples, data_batch["labels"][self.task], strict=True):
            valid = label[0] >= 0
            self.results.append((float(((s[self.task][0] > 0) == (label[0] > 0.5))[valid].sum()),
                                 float(valid.sum())))

    def compute_metrics(self, results: list) -> dict[str, float]:
        hits, count = np.sum(results, axis=0)
        return {"acc": 100.0 * hits / max(count, 1.0)}


class BrightTask(Task):
    """Toy binary task: 1 where the pixel is bright, 0 where dark, −1 unknown; BCE; accuracy."""

    name = "bright"
    title, abbrev = "Brightness", "Bright"
    channels = 1
    metrics = (MetricSpec("acc", "Acc", True, 2, "%"),)
    primary = "acc"

    def valid_mask(self, label: torch.Tensor) -> torch.Tensor:
        return label[:, 0] >= 0

    def blank_label(self, label: torch.Tensor) -> torch.Tensor:
        return torch.full_like(label, -1.0)

    def check_array(self, array: np.ndarray, hw: tuple[int, int]) -> str | None:
        return None if array.shape == (*hw, 1) else f"shape {array.shape}, expected {(*hw, 1)}"

    def describe_array(self) -> str:
        return "H×W×1 in {−1, 0, 1}"

    def pixel_loss(self, pred: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(pred[:, 0], label[:, 0].clamp(0, 1),
                                                  reduction="none")

    def prediction_distance(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (torch.sigmoid(pred) - torch.sigmoid(target)).abs()[:, 0]

    def build_metric(self) -> Any:
        return BrightAccuracy(self.name)

    def score_per_image(self, pred: torch.Tensor, label: torch.Tensor) -> list[float]:
        return [float(((p[0] > 0) == (y[0] > 0.5)).float().mean() * 100)
                for p, y in zip(pred, label, strict=True)]

    def encode_prediction(self, pred: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(pred)

    def encode_label(self, label: torch.Tensor) -> torch.Tensor:
        return label.clamp(0, 1)

    def visualise(self, value: torch.Tensor, reference: torch.Tensor) -> np.ndarray:
        grey = value[0].detach().float().clamp(0, 1).cpu().numpy()
        return np.repeat(grey[..., None], 3, axis=-1)


class ToyBright(DenseDataset):
    """Random images with a 3-class segmentation and the toy brightness task."""

    name = "toy-bright"
    display = "toy brightness"
    folders: ClassVar[dict[str, str]] = {"semantic": "label", "bright": "bright"}
    default_profile = "smoke"
    default_regimes = ("onelabel",)

    @classmethod
    def build_tasks(cls) -> tuple[Task, ...]:
        return (SemanticTask(3), BrightTask())


@pytest.fixture()
def toy_root(tmp_path):
    unregister(DATASETS, ToyBright.name)
    register_dataset(ToyBright.name)(ToyBright)
    rng = np.random.default_rng(0)
    root = tmp_path / "data"
    for split, n in (("train", 16), ("val", 8)):
        for folder in ("image", "label", "bright"):
            (root / "toy-bright" / split / folder).mkdir(parents=True)
        for i in range(n):
            d = root / "toy-bright" / split
            image = rng.random((32, 64, 3), dtype=np.float32)
            np.save(d / "image" / f"{i}.npy", image)
            label = np.floor(image[..., 0] * 3).clip(0, 2).astype(np.float32)
            np.save(d / "label" / f"{i}.npy", label)
            np.save(d / "bright" / f"{i}.npy", (image.mean(-1, keepdims=True) > 0.5)
                    .astype(np.float32))
    yield root
    unregister(DATASETS, ToyBright.name)


def test_the_toy_task_follows_augmentation_and_blanking(toy_root):
    ds = ToyBright(toy_root / "toy-bright", "train", mask=np.array([[True, False]] * 16),
                   augment=True, two_views=True)
    sample = ds[(3, 1)]
    assert sample["labels"]["bright"].shape == (1, 32, 64)
    assert (sample["labels"]["bright"] == -1).all()  # dropped label blanked by the task
    assert set(sample["view2"]["labels"]["bright"].unique().tolist()) <= {-1.0}


@pytest.mark.slow
def test_sl_and_xtc_train_on_a_task_defined_only_here(toy_root, tmp_path, capsys):
    results = tmp_path / "res"
    assert main(["run", "--methods", "sl,xtc", "--dataset", "toy-bright", "--regimes",
                 "full,onelabel", "--seeds", "0", "--profile", "smoke", "--jobs", "1",
                 "--data-root", str(toy_root), "--results", str(results), "--no-table"]) == 0
    records = list(iter_records(results))
    assert len(records) == 4 and all(r.status == "ok" for r in records)
    for r in records:
        assert 0.0 <= r.metrics["bright/acc"] <= 100.0
        assert [t.title for t in r.tasks] == ["Segmentation", "Brightness"]
    capsys.readouterr()
    assert main(["table", "--dataset", "toy-bright", "--profile", "smoke", "--baseline", "sl",
                 "--results", str(results)]) == 0
    assert "Bright Acc ↑" in capsys.readouterr().out
