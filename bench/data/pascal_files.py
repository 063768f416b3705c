"""Readers of the PASCAL-Context multi-task files (the layout of Vandenhende et al.'s PASCAL_MT).

Each reader turns one file into the array its task checks and decodes
(:meth:`~bench.tasks.Task.check_array`); what the formats mean follows the reference loader
(``data/pascal_context.py`` of Multi-Task-Learning-PyTorch):

* ``JPEGImages/{id}.jpg``: RGB image → ``H×W×3`` float in [0, 1].
* ``semseg/VOC12/{id}.png`` (preferred) or ``semseg/pascal-context/{id}.png``: 8-bit class ids
  0…20 (VOC classes, 0 = background), 255 = ignored → ``H×W`` int, −1 ignored.
* ``human_parts/{id}.mat`` (PASCAL-Part): struct ``anno`` with ``objects`` (fields ``class``,
  ``class_ind``, ``mask``, ``parts``; parts have ``part_name`` and ``mask``). The parts of every
  person (``class_ind`` 15) are painted into one map with the 6-group mapping of
  :data:`PART_GROUPS`; an image without a part-annotated person (no part pixel painted) is
  all −1 (not evaluated).
* ``pascal-context/trainval/{id}.mat``: ``LabelMap``, the 459-class PASCAL-Context label map.
  Edges are its class boundaries: :math:`|\\nabla^2 L| > 0` (4-neighbour Laplacian, OpenCV's
  ``Laplacian`` with reflect-101 borders), thinned to one pixel → ``H×W`` 0/1.
* ``normals_distill/{id}.png``: RGB, :math:`n = 2v/255 - 1`, renormalised to unit length, kept
  only on pixels whose ``LabelMap`` class is one of :data:`NORMALS_VALID_CLASSES` (classes that
  NYUv2 also has, plus tvmonitor), all-zero (missing) elsewhere.
* ``sal_distill/{id}.png``: grey levels, salient where :math:`v / 255 > 0.5` → ``H×W`` 0/1.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

#: VOC class index of "person" in the PASCAL-Part annotations
PERSON_CLASS = 15
#: PASCAL-Part person part names → the 6 groups (1 head, 2 torso, 3 upper arm, 4 lower arm /
#: hand, 5 upper leg, 6 lower leg / foot) of Vandenhende et al.'s ``HUMAN_PART[6]``
PART_GROUPS: dict[str, int] = {
    **dict.fromkeys(("hair", "head", "lear", "lebrow", "leye", "mouth", "nose", "rear", "rebrow",
                     "reye"), 1),
    "neck": 2, "torso": 2,
    "luarm": 3, "ruarm": 3,
    "llarm": 4, "rlarm": 4, "lhand": 4, "rhand": 4,
    "luleg": 5, "ruleg": 5,
    "llleg": 6, "rlleg": 6, "lfoot": 6, "rfoot": 6,
}
#: PASCAL-Context (459-class) ids on which the distilled normals count: the classes whose names
#: NYUv2 (894 classes) also has, except "unknown", plus tvmonitor. Derived from the class lists
#: ``nyu_classes.json`` and ``context_classes.json`` that Vandenhende et al.'s loader intersects.
NORMALS_VALID_CLASSES: frozenset[int] = frozenset((
    3, 4, 6, 9, 10, 11, 13, 15, 17, 18, 22, 23, 29, 30, 33, 34, 36, 37, 38, 39, 41, 43, 46, 49,
    50, 51, 53, 55, 56, 59, 61, 62, 65, 66, 68, 69, 72, 73, 78, 83, 84, 85, 87, 88, 95, 96, 101,
    104, 105, 107, 111, 113, 115, 122, 124, 135, 141, 142, 143, 146, 150, 154, 157, 158, 159,
    165, 172, 174, 181, 183, 184, 191, 193, 195, 197, 199, 202, 213, 215, 216, 219, 220, 223,
    225, 228, 230, 232, 233, 238, 239, 242, 243, 246, 250, 251, 252, 255, 260, 261, 263, 269,
    272, 273, 275, 281, 283, 284, 285, 286, 287, 288, 290, 291, 292, 293, 295, 304, 307, 309,
    310, 314, 315, 319, 323, 329, 330, 331, 336, 342, 345, 349, 350, 351, 352, 355, 357, 368,
    370, 371, 374, 379, 380, 383, 384, 397, 401, 403, 405, 407, 408, 411, 412, 413, 414, 417,
    419, 421, 423, 427, 429, 430, 432, 440, 441, 442, 443, 444, 446, 454, 457))


class FileFormatError(ValueError):
    """A file exists but does not hold what its folder should (the adapter names the file)."""


def read_image(path: Path) -> np.ndarray:
    """``H×W×3`` float32 in [0, 1]."""
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0


def read_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im)


def read_semseg(path: Path) -> np.ndarray:
    """``H×W`` int64 class ids, 255 → −1."""
    arr = read_png(path)
    if arr.ndim != 2:
        raise FileFormatError(f"a class-id PNG must have one channel (found shape {arr.shape})")
    out = arr.astype(np.int64)
    out[out == 255] = -1
    return out


def read_saliency(path: Path) -> np.ndarray:
    """``H×W`` float32 0 / 1: salient where the grey level exceeds half of 255."""
    from PIL import Image

    with Image.open(path) as im:
        grey = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
    return (grey > 0.5).astype(np.float32)


def load_mat(path: Path) -> dict[str, Any]:
    from scipy.io import loadmat

    try:
        return loadmat(str(path))
    except Exception as exc:  # noqa: BLE001 - any unreadable .mat is the same data problem
        raise FileFormatError(f"cannot read it as a MATLAB file ({type(exc).__name__}: {exc})"
                              ) from None


def read_label_map(path: Path) -> np.ndarray:
    """The PASCAL-Context ``LabelMap`` (``H×W`` int64, 459-class ids)."""
    data = load_mat(path)
    if "LabelMap" not in data:
        raise FileFormatError("no variable 'LabelMap'")
    label = np.asarray(data["LabelMap"])
    if label.ndim != 2:
        raise FileFormatError(f"'LabelMap' has shape {label.shape}; expected H×W")
    return label.astype(np.int64)


@lru_cache(maxsize=1)
def _binary_thin() -> Any:
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pyEdgeEval prints a note on import
        from pyEdgeEval.preprocess import binary_thin
    return binary_thin


def edges_of(label_map: np.ndarray) -> np.ndarray:
    """Class boundaries of a label map: thinned :math:`|\\nabla^2 L| > 0`, ``H×W`` float32 0/1."""
    import cv2

    lap = cv2.Laplacian(label_map.astype(np.float64), cv2.CV_64F)
    return _binary_thin()(np.abs(lap) > 0).astype(np.float32)


def read_normals(path: Path, label_map: np.ndarray) -> np.ndarray:
    """``H×W×3`` unit normals where the class is valid for normals, all-zero elsewhere."""
    arr = read_png(path)
    if arr.ndim != 3 or arr.shape[2] < 3:
        raise FileFormatError(f"a normals PNG must be RGB (found shape {arr.shape})")
    n = 2.0 * arr[..., :3].astype(np.float64) / 255.0 - 1.0
    norm = np.linalg.norm(n, axis=-1, keepdims=True)
    n = np.where(norm > 0, n / np.maximum(norm, 1e-12), 0.0)
    if label_map.shape != n.shape[:2]:
        raise FileFormatError(f"normals are {n.shape[0]}×{n.shape[1]} but the LabelMap is "
                              f"{label_map.shape[0]}×{label_map.shape[1]}")
    valid = np.isin(label_map, sorted(NORMALS_VALID_CLASSES))
    return np.where(valid[..., None], n, 0.0).astype(np.float32)


def _field(struct: Any, name: str) -> Any:
    try:
        return struct[name]
    except (ValueError, KeyError, IndexError, TypeError):
        raise FileFormatError(f"no field '{name}' in the PASCAL-Part annotation") from None


def _text(value: Any) -> str:
    arr = np.asarray(value).ravel()
    return str(arr[0]) if arr.size else ""


def read_human_parts(path: Path, hw: tuple[int, int]) -> np.ndarray:
    """``H×W`` int64 part ids 0…6 over the image, or all −1 without a part-annotated person."""
    data = load_mat(path)
    if "anno" not in data:
        raise FileFormatError("no variable 'anno' (PASCAL-Part annotation)")
    anno = np.asarray(data["anno"]).ravel()[0]
    objects = np.asarray(_field(anno, "objects")).ravel()
    target: np.ndarray | None = None
    for obj in objects:
        cls = np.asarray(_field(obj, "class_ind")).ravel()
        parts = np.asarray(_field(obj, "parts")).ravel()
        if cls.size == 0 or int(cls[0]) != PERSON_CLASS or parts.size == 0:
            continue
        for part in parts:
            name = _text(_field(part, "part_name"))
            if name not in PART_GROUPS:
                raise FileFormatError(f"unknown person part '{name}' (expected one of "
                                      f"{', '.join(sorted(PART_GROUPS))})")
            mask = np.asarray(_field(part, "mask")).astype(bool)
            if mask.shape != tuple(hw):
                raise FileFormatError(f"part mask of shape {mask.shape}; the image is "
                                      f"{hw[0]}×{hw[1]}")
            if target is None:
                target = np.zeros(hw, np.int64)
            target[mask] = PART_GROUPS[name]
    if target is None or not target.any():  # no person part painted: ignored, as the
        return np.full(hw, -1, np.int64)     # reference's AddIgnoreRegions does
    return target
