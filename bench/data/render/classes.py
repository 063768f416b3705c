"""Class sets of the synthetic datasets (index order is that of the real preprocessed sets)."""

from __future__ import annotations

from enum import IntEnum

import numpy as np

NYUV2_CLASSES: tuple[str, ...] = (
    "bed", "books", "ceiling", "chair", "floor", "furniture", "objects", "picture", "sofa",
    "table", "tv", "wall", "window",
)

CITYSCAPES19_CLASSES: tuple[str, ...] = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
    "motorcycle", "bicycle",
)

CITYSCAPES7_CLASSES: tuple[str, ...] = (
    "flat", "construction", "object", "nature", "sky", "human", "vehicle",
)

#: trainId (19 classes) → category (7 classes); apply as ``CITYSCAPES19_TO_7[label_19]``.
CITYSCAPES19_TO_7: np.ndarray = np.array(
    [0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5, 5, 6, 6, 6, 6, 6, 6], dtype=np.int64)

VOID = -1


class Nyu(IntEnum):
    """NYUv2 13-class indices."""

    BED = 0
    BOOKS = 1
    CEILING = 2
    CHAIR = 3
    FLOOR = 4
    FURNITURE = 5
    OBJECTS = 6
    PICTURE = 7
    SOFA = 8
    TABLE = 9
    TV = 10
    WALL = 11
    WINDOW = 12


class City(IntEnum):
    """Cityscapes 19-class trainIds."""

    ROAD = 0
    SIDEWALK = 1
    BUILDING = 2
    WALL = 3
    FENCE = 4
    POLE = 5
    TRAFFIC_LIGHT = 6
    TRAFFIC_SIGN = 7
    VEGETATION = 8
    TERRAIN = 9
    SKY = 10
    PERSON = 11
    RIDER = 12
    CAR = 13
    TRUCK = 14
    BUS = 15
    TRAIN = 16
    MOTORCYCLE = 17
    BICYCLE = 18


def map_19_to_7(label_19: np.ndarray) -> np.ndarray:
    """``label_7`` of a ``label_19`` map (same dtype); void (−1) stays −1."""
    lab = np.asarray(label_19)
    idx = lab.astype(np.int64)
    out = np.where(idx >= 0, CITYSCAPES19_TO_7[np.clip(idx, 0, 18)], VOID)
    return out.astype(lab.dtype)
