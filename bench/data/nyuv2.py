"""NYUv2 in the preprocessed MTAN layout: 13-class semantics, metric depth, surface normals."""

from __future__ import annotations

from bench.data.base import DenseDataset
from bench.data.intrinsics import Intrinsics
from bench.registry import register_dataset
from bench.tasks import Task
from bench.tasks.depth import DepthTask
from bench.tasks.normal import NormalTask
from bench.tasks.semantic import SemanticTask

#: NYUv2's RGB camera at its original 480×640 (OpenCV convention)
KINECT = Intrinsics.opencv(518.857901, 519.469611, 325.582449, 253.736166, 480, 640)


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

    @classmethod
    def intrinsics(cls, size: tuple[int, int]) -> Intrinsics | None:
        """The Kinect v1 RGB camera of NYUv2 (Silberman et al.'s toolbox: f = 518.86 / 519.47,
        c = 325.58 / 253.74 px at 640×480), scaled to the preprocessed 288×384 and then to
        ``size``; MTAN's preprocessing resizes the full frames without cropping."""
        return KINECT.at(*size)
