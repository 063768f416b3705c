"""Cityscapes in the preprocessed MTAN layout: 7-class semantics and inverse depth."""

from __future__ import annotations

from bench.data.base import DenseDataset
from bench.registry import register_dataset
from bench.tasks import Task
from bench.tasks.depth import DepthTask
from bench.tasks.semantic import SemanticTask


@register_dataset("cityscapes")
class Cityscapes(DenseDataset):
    """Cityscapes (2975 train / 500 val, 128×256): 7-class segmentation, inverse depth."""

    name = "cityscapes"
    display = "Cityscapes"
    folders = {"semantic": "label_7", "depth": "depth"}
    official_sizes = {"train": 2975, "val": 500}
    native_size = (128, 256)
    default_profile = "paper"
    default_regimes = ("onelabel", "ratio:1:9", "ratio:9:1")
    default_seeds = (0,)
    scales = (1.0, 1.2, 1.5)
    flip = True
    source = ("Get the preprocessed 128×256 Cityscapes of MTAN (github.com/lorenmt/mtan, "
              "link: https://www.dropbox.com/sh/gaw6vh6qusoyms6/AADwWi0Tp3E3M4B2xzeGlsEna?dl=0), "
              "unpack it so that ROOT/train/image/0.npy exists, and put it at datasets/cityscapes "
              "or pass --data-root DIR (DIR/cityscapes). See datasets/README.md.")

    @classmethod
    def build_tasks(cls) -> tuple[Task, ...]:
        return (SemanticTask(7), DepthTask(decimals=4, inverse=True))
