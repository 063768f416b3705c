"""Write a rendered PASCAL-like sample as the files of the PASCAL-Context multi-task layout.

Per image id (``JPEGImages/{id}.jpg``, ``semseg/pascal-context/{id}.png``,
``pascal-context/trainval/{id}.mat`` with ``LabelMap``, ``human_parts/{id}.mat`` with the
PASCAL-Part struct ``anno``, ``normals_distill/{id}.png``, ``sal_distill/{id}.png``), in the
formats :mod:`bench.data.pascal_files` reads; the split lists ``ImageSets/Context/*.txt`` are
written by :func:`write_split_lists`. Ids look like PASCAL's: ``9000_000123`` (train),
``9001_000045`` (val).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.data.render.pascal import PERSON_PARTS, VOC

FOLDERS = ("JPEGImages", "semseg/pascal-context", "pascal-context/trainval", "human_parts",
           "normals_distill", "sal_distill", "ImageSets/Context")


def image_id(split_id: int, index: int) -> str:
    return f"{9000 + split_id}_{index:06d}"


def _struct_array(rows: Sequence[dict], names: Sequence[str]) -> np.ndarray:
    """A 1×N MATLAB struct array (``scipy.io.savemat``) with fields ``names``."""
    arr = np.zeros((1, len(rows)), dtype=[(n, object) for n in names])
    for i, row in enumerate(rows):
        for n in names:
            arr[0, i][n] = row[n]
    return arr


def parts_annotation(sample: dict, name: str) -> dict:
    """The PASCAL-Part ``anno`` struct of a sample: every object with its mask, and the parts of
    every person."""
    objects = []
    for inst, cls in enumerate(sample["objects"]):
        mask = sample["instance"] == inst
        if not mask.any():
            continue
        parts = []
        if cls == "person":
            for k, part in enumerate(PERSON_PARTS):
                pm = mask & (sample["part"] == k)
                if pm.any():
                    parts.append({"part_name": part, "mask": pm.astype(np.uint8)})
        objects.append({"class": cls, "class_ind": np.array([[VOC[cls]]], np.uint8),
                        "mask": mask.astype(np.uint8),
                        "parts": _struct_array(parts, ("part_name", "mask")) if parts
                        else np.zeros((0, 0))})
    return {"imname": f"{name}.jpg",
            "objects": _struct_array(objects, ("class", "class_ind", "mask", "parts"))}


def write_pascal_sample(root: Path, split_id: int, index: int, sample: dict) -> None:
    from PIL import Image
    from scipy.io import savemat

    name = image_id(split_id, index)
    root = Path(root)
    Image.fromarray((np.clip(sample["image"], 0, 1) * 255 + 0.5).astype(np.uint8)).save(
        root / "JPEGImages" / f"{name}.jpg", quality=92)
    Image.fromarray(sample["semseg"].astype(np.uint8)).save(
        root / "semseg" / "pascal-context" / f"{name}.png")
    savemat(root / "pascal-context" / "trainval" / f"{name}.mat",
            {"LabelMap": sample["context"].astype(np.uint16)}, do_compression=True)
    savemat(root / "human_parts" / f"{name}.mat",
            {"anno": parts_annotation(sample, name)}, do_compression=True)
    normals = np.clip((sample["normals"] + 1.0) / 2.0 * 255.0 + 0.5, 0, 255).astype(np.uint8)
    Image.fromarray(normals).save(root / "normals_distill" / f"{name}.png")
    # distilled saliency is a soft map: a 3×3 box blur of the foreground mask, as grey levels
    sal = np.pad(sample["saliency"].astype(np.float32), 1, mode="edge")
    h, w = sample["saliency"].shape
    soft = sum(sal[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)) / 9.0
    Image.fromarray((soft * 255 + 0.5).astype(np.uint8)).save(
        root / "sal_distill" / f"{name}.png")


def write_split_lists(root: Path, sizes: dict[str, int]) -> None:
    for split_id, split in enumerate(("train", "val")):
        ids = [image_id(split_id, i) for i in range(sizes[split])]
        (Path(root) / "ImageSets" / "Context" / f"{split}.txt").write_text("\n".join(ids) + "\n")
