"""Tiny fixtures in the exact on-disk layouts of the real datasets (random but valid content)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_nyuv2(root: Path, n_train: int = 6, n_val: int = 4, h: int = 64, w: int = 64,
                seed: int = 0) -> Path:
    """MTAN NYUv2 layout: image/label/depth/normal .npy per split."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("val", n_val)):
        for folder in ("image", "label", "depth", "normal"):
            (root / split / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            d = root / split
            np.save(d / "image" / f"{i}.npy", rng.random((h, w, 3), dtype=np.float32))
            np.save(d / "label" / f"{i}.npy",
                    rng.integers(-1, 13, size=(h, w)).astype(np.float32))
            depth = rng.uniform(0.5, 8.0, size=(h, w, 1)).astype(np.float32)
            depth[rng.random((h, w)) < 0.1] = 0
            np.save(d / "depth" / f"{i}.npy", depth)
            normal = rng.normal(size=(h, w, 3)).astype(np.float32)
            normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
            normal[depth[..., 0] == 0] = 0
            np.save(d / "normal" / f"{i}.npy", normal)
    return root


def write_cityscapes(root: Path, n_train: int = 6, n_val: int = 4, h: int = 64, w: int = 128,
                     seed: int = 0) -> Path:
    """MTAN Cityscapes layout: image/label_7/label_19/depth .npy per split."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("val", n_val)):
        for folder in ("image", "label_7", "label_19", "depth"):
            (root / split / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            d = root / split
            np.save(d / "image" / f"{i}.npy", rng.random((h, w, 3), dtype=np.float32))
            np.save(d / "label_7" / f"{i}.npy", rng.integers(-1, 7, size=(h, w)).astype(np.float32))
            np.save(d / "label_19" / f"{i}.npy",
                    rng.integers(-1, 19, size=(h, w)).astype(np.float32))
            inv = rng.uniform(0.01, 0.5, size=(h, w, 1)).astype(np.float32)
            inv[rng.random((h, w)) < 0.1] = 0
            np.save(d / "depth" / f"{i}.npy", inv)
    return root


#: body part names of PASCAL-Part used by the fixture, with the group each maps to
FIXTURE_PARTS = {"head": 1, "torso": 2, "luarm": 3, "rlarm": 4, "luleg": 5, "rfoot": 6}


def pascal_struct(rows: list[dict], names: tuple[str, ...]) -> np.ndarray:
    arr = np.zeros((1, len(rows)), dtype=[(n, object) for n in names])
    for i, row in enumerate(rows):
        for n in names:
            arr[0, i][n] = row[n]
    return arr


def write_pascal_parts(path: Path, h: int, w: int, person: bool, other: bool = True) -> None:
    """A PASCAL-Part ``anno`` .mat: a person with the parts of :data:`FIXTURE_PARTS` in
    horizontal bands of the left half (when ``person``), a part-less dog on the right half."""
    from scipy.io import savemat

    objects = []
    if person:
        parts, band = [], h // len(FIXTURE_PARTS)
        for k, name in enumerate(FIXTURE_PARTS):
            m = np.zeros((h, w), np.uint8)
            m[k * band:(k + 1) * band, : w // 2] = 1
            parts.append({"part_name": name, "mask": m})
        mask = np.zeros((h, w), np.uint8)
        mask[:, : w // 2] = 1
        objects.append({"class": "person", "class_ind": np.array([[15]], np.uint8), "mask": mask,
                        "parts": pascal_struct(parts, ("part_name", "mask"))})
    if other:
        mask = np.zeros((h, w), np.uint8)
        mask[:, w // 2:] = 1
        objects.append({"class": "dog", "class_ind": np.array([[12]], np.uint8), "mask": mask,
                        "parts": np.zeros((0, 0))})
    savemat(path, {"anno": {"imname": path.stem + ".jpg",
                            "objects": pascal_struct(objects, ("class", "class_ind", "mask",
                                                               "parts"))}})


def write_pascal(root: Path, n_train: int = 6, n_val: int = 4, h: int = 48, w: int = 64,
                 seed: int = 0) -> Path:
    """Vandenhende et al.'s PASCAL_MT layout: JPEG images, PNG / .mat labels, split lists.

    Image ``i`` of a split shows a person (left half, with parts) when ``i`` is even; its
    ``LabelMap`` is wall (440) with a person (284) rectangle and a sky (360) strip on top."""
    from PIL import Image
    from scipy.io import savemat

    rng = np.random.default_rng(seed)
    for folder in ("JPEGImages", "semseg/pascal-context", "human_parts", "normals_distill",
                   "sal_distill", "pascal-context/trainval", "ImageSets/Context"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for split_id, (split, n) in enumerate((("train", n_train), ("val", n_val))):
        ids = [f"{2008 + split_id}_{i:06d}" for i in range(n)]
        (root / "ImageSets" / "Context" / f"{split}.txt").write_text("\n".join(ids) + "\n")
        for i, name in enumerate(ids):
            Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(
                root / "JPEGImages" / f"{name}.jpg")
            semseg = rng.integers(0, 21, (h, w)).astype(np.uint8)
            semseg[0, :] = 255
            Image.fromarray(semseg).save(root / "semseg" / "pascal-context" / f"{name}.png")
            label_map = np.full((h, w), 440, np.uint16)
            label_map[: h // 4] = 360
            label_map[h // 3: 2 * h // 3, w // 4: w // 2] = 284
            savemat(root / "pascal-context" / "trainval" / f"{name}.mat", {"LabelMap": label_map})
            write_pascal_parts(root / "human_parts" / f"{name}.mat", h, w, person=i % 2 == 0)
            normal = rng.normal(size=(h, w, 3))
            normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
            Image.fromarray(((normal + 1) / 2 * 255 + 0.5).astype(np.uint8)).save(
                root / "normals_distill" / f"{name}.png")
            sal = np.zeros((h, w), np.uint8)
            sal[h // 3: 2 * h // 3, w // 4: w // 2] = 230
            Image.fromarray(sal).save(root / "sal_distill" / f"{name}.png")
    return root
