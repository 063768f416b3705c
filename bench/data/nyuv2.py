"""NYUv2 in the preprocessed MTAN layout: 13-class semantics, metric depth, surface normals."""

from __future__ import annotations

from bench.data.base import DenseDataset
from bench.registry import register_dataset
from bench.tasks import Task
from bench.tasks.depth import DepthTask
from bench.tasks.normal import NormalTask
from bench.tasks.semantic import SemanticTask


@register_dataset("nyuv2")
class NYUv2(DenseDataset):
    """NYUv2 (795 train / 654 val, 288×384): 13-class segmentation, depth, normals."""

    name = "nyuv2"
    display = "NYUv2"
    folders = {"semantic": "label", "depth": "depth", "normal": "normal"}
    official_sizes = {"train": 795, "val": 654}
    native_size = (288, 384)
    default_profile = "paper"
    default_regimes = ("onelabel", "randomlabels")
    default_seeds = (0,)
    scales = (1.0, 1.2, 1.5)
    flip = False
    source = ("Get the preprocessed NYUv2 of MTAN (github.com/lorenmt/mtan, 'pre-processed NYUv2' "
              "link: https://www.dropbox.com/sh/86nssgwm6hm3vkb/AACrnUQ4GxpdrBbLjb6n-mWNa?dl=0), "
              "unpack it so that ROOT/train/image/0.npy exists, and put it at datasets/nyuv2 or "
              "pass --data-root DIR (DIR/nyuv2). See datasets/README.md.")

    @classmethod
    def build_tasks(cls) -> tuple[Task, ...]:
        return (SemanticTask(13), DepthTask(decimals=4), NormalTask())
