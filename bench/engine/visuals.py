"""Figure data of a finished run, written beside its record (``visuals.npz``).

Reports read records, never models: so at the end of a run the engine renders what the report's
figures show of it, once, while the model is still in hand.

* **Predictions** (the paper's Fig. 4): for :data:`VISUAL_IMAGES` test images evenly spaced over
  the split, the input, every task's label and prediction as RGB (each task's
  :meth:`~bench.tasks.Task.visualise`, the prediction coloured like its label), and the per-image
  score of each task's primary metric (:meth:`~bench.tasks.Task.score_per_image`).
* **Mapped outputs** (the paper's Fig. 3), for methods with a joint task-pair mapping
  (``mapped_pairs``): for the middle one of those images and every ordered task pair (s, t), the
  prediction of s, the label of t, both mapped maps drawn as RGB through one shared 3-component
  PCA (equal colours mean equal features) and their per-pixel cosine similarity.

Arrays (``N`` images, ``P`` pairs)::

    index [N]; image [N, H, W, 3] uint8
    label/<task>, pred/<task> [N, H, W, 3] uint8; score/<task> [N]
    pairs [P, 2] (source, target task names); pair_image int
    pair/prediction, pair/label [P, H, W, 3] uint8; pair/source, pair/target [P, h, w, 3] uint8
    pair/cos [P, h, w] float32; pair/stage [P]; pair/channels [P]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.records.atomic import atomic_write_with
from bench.tasks import Task

VISUALS = "visuals.npz"
VISUAL_IMAGES = 4


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def image_rgb(image: torch.Tensor) -> np.ndarray:
    """An input image ``[3, H, W]`` as RGB in [0, 1] (min–max scaled if outside [0, 1])."""
    arr = np.moveaxis(image.detach().cpu().numpy(), 0, -1).astype(float)
    if arr.min() < 0 or arr.max() > 1:
        arr = (arr - arr.min()) / max(arr.max() - arr.min(), 1e-9)
    return np.clip(arr, 0, 1)


def pca_rgb(maps: list[np.ndarray]) -> list[np.ndarray]:
    """``[C, h, w]`` maps → ``[h, w, 3]`` images in [0, 1] through one shared 3-component PCA."""
    c = maps[0].shape[0]
    pixels = np.concatenate([m.reshape(c, -1).T for m in maps])
    centred = pixels - pixels.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    basis = vt[:3].T if vt.shape[0] >= 3 else np.pad(vt.T, ((0, 0), (0, 3 - vt.shape[0])))
    proj = centred @ basis
    lo, hi = np.percentile(proj, 1, axis=0), np.percentile(proj, 99, axis=0)
    proj = np.clip((proj - lo) / np.maximum(hi - lo, 1e-8), 0, 1)
    out, start = [], 0
    for m in maps:
        n = m.shape[1] * m.shape[2]
        out.append(proj[start:start + n].reshape(m.shape[1], m.shape[2], 3))
        start += n
    return out


def picks(n: int, images: int = VISUAL_IMAGES) -> list[int]:
    """Indices of ``images`` samples evenly spaced over a split of ``n`` (reproducible)."""
    return sorted({int(i) for i in np.linspace(0, n - 1, min(images, n)).round()})


@torch.no_grad()
def render_visuals(model: Any, dataset: Any, tasks: Sequence[Task],
                   images: int = VISUAL_IMAGES) -> dict[str, np.ndarray]:
    """The arrays of the module docstring for ``model`` on ``dataset`` (its test split)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        index = picks(len(dataset), images)
        samples = [dataset[i] for i in index]
        image = torch.stack([s["image"] for s in samples])
        labels = {t.name: torch.stack([s["labels"][t.name] for s in samples]) for t in tasks}
        preds = {k: v.float().cpu() for k, v in model.predict_tensors(image.to(device)).items()}
        out: dict[str, np.ndarray] = {
            "index": np.asarray(index),
            "image": to_uint8(np.stack([image_rgb(x) for x in image]))}
        for t in tasks:
            lab, pred = labels[t.name], preds[t.name]
            out[f"label/{t.name}"] = to_uint8(np.stack([t.visualise(lab[i], lab[i])
                                                        for i in range(len(index))]))
            out[f"pred/{t.name}"] = to_uint8(np.stack([t.visualise(pred[i], lab[i])
                                                       for i in range(len(index))]))
            out[f"score/{t.name}"] = np.asarray(t.score_per_image(pred, lab), dtype=np.float64)
        middle = len(index) // 2
        pair_labels = labels_of(labels, middle, device)
        mapped = model.mapped_pairs(image[middle].to(device), pair_labels)
        if mapped is not None:
            out.update(_pairs(mapped, tasks, pair_labels))
            out["pair_image"] = np.asarray(index[middle])
    finally:
        model.train(was_training)
    return out


def labels_of(labels: dict[str, torch.Tensor], i: int, device: Any) -> dict[str, torch.Tensor]:
    """The labels of image ``i`` of a stacked batch, on ``device``."""
    return {k: v[i].to(device) for k, v in labels.items()}


def _pairs(mapped: tuple[dict[str, torch.Tensor], list[dict[str, Any]]], tasks: Sequence[Task],
           labels: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """The figure arrays of :meth:`~bench.method.base.PartialLabelMethod.mapped_pairs`'s
    output for one image with ``labels``."""
    by_name = {t.name: t for t in tasks}
    preds, rows = mapped
    out: dict[str, list[Any]] = {k: [] for k in ("pairs", "pair/prediction", "pair/label",
                                                 "pair/source", "pair/target", "pair/cos",
                                                 "pair/stage", "pair/channels")}
    for row in rows:
        s, t = by_name[row["source_task"]], by_name[row["target_task"]]
        rgb_a, rgb_b = pca_rgb([row["source"], row["target"]])
        out["pairs"].append([s.name, t.name])
        out["pair/prediction"].append(to_uint8(s.visualise(preds[s.name].cpu(),
                                                           labels[s.name].cpu())))
        out["pair/label"].append(to_uint8(t.visualise(labels[t.name].cpu(), labels[t.name].cpu())))
        out["pair/source"].append(to_uint8(rgb_a))
        out["pair/target"].append(to_uint8(rgb_b))
        out["pair/cos"].append(row["cos"].astype(np.float32))
        out["pair/stage"].append(row["stage"])
        out["pair/channels"].append(row["source"].shape[0])
    return {k: np.asarray(v) for k, v in out.items()}


def write_visuals(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Save ``arrays`` to ``path`` (compressed npz, written atomically, see :mod:`bench.records.atomic`)."""
    atomic_write_with(Path(path), lambda f: np.savez_compressed(f, **arrays))
