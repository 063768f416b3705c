"""Semantic segmentation: per-pixel cross-entropy, labels ``-1`` ignored, mIoU."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from bench.registry import register_task
from bench.tasks.base import MetricSpec, Task
from bench.tasks.spatial import CropParams, crop_resize

# NYUv2 13-class palette (as in common NYUv2 visualisations), Cityscapes 7-class palette
PALETTE_13 = np.array([
    [0, 0, 1], [0.9137, 0.3490, 0.1882], [0, 0.8549, 0], [0.5843, 0, 0.9412],
    [0.8706, 0.9451, 0.0941], [1.0000, 0.8078, 0.8078], [0, 0.8784, 0.8980],
    [0.4157, 0.5333, 0.8000], [0.4588, 0.1137, 0.1608], [0.9412, 0.1373, 0.9216],
    [0, 0.6549, 0.6118], [0.9765, 0.5451, 0], [0.8824, 0.8980, 0.7608]])
PALETTE_7 = np.array([[128, 64, 128], [70, 70, 70], [250, 170, 30], [107, 142, 35],
                      [70, 130, 180], [220, 20, 60], [0, 0, 142]]) / 255.0


def voc_palette(num_classes: int = 21) -> np.ndarray:
    """The PASCAL VOC colour map (0–1): bits of the class id spread over R, G, B, high first."""
    out = np.zeros((num_classes, 3))
    for c in range(num_classes):
        r = g = b = 0
        for j in range(8):
            r |= ((c >> (3 * j)) & 1) << (7 - j)
            g |= ((c >> (3 * j + 1)) & 1) << (7 - j)
            b |= ((c >> (3 * j + 2)) & 1) << (7 - j)
        out[c] = (r, g, b)
    return out / 255.0


def palette(num_classes: int) -> np.ndarray:
    """Fixed RGB colours (0–1) of ``num_classes`` classes (VOC colours for 21)."""
    if num_classes == 21:
        return voc_palette(21)
    if num_classes <= len(PALETTE_7) and num_classes != 13:
        return PALETTE_7[:num_classes]
    if num_classes <= len(PALETTE_13):
        return PALETTE_13[:num_classes]
    rng = np.random.default_rng(0)
    return np.vstack([PALETTE_13, rng.uniform(0.1, 0.95, (num_classes - len(PALETTE_13), 3))])


@register_task("semantic")
class SemanticTask(Task):
    """Semantic segmentation: per-pixel cross-entropy, labels ``-1`` ignored, mIoU."""

    title = "Segmentation"
    abbrev = "Seg."

    def __init__(self, num_classes: int, name: str = "semantic", loss_weight: float = 1.0
                 ) -> None:
        self.name = name
        self.num_classes = num_classes
        self.loss_weight = float(loss_weight)
        self.channels = num_classes
        self.metrics = (
            MetricSpec("mIoU", "mIoU", True, 2, "%"),
            MetricSpec("pixAcc", "Pix Acc", True, 2, "%"),
        )
        self.primary = "mIoU"

    # -- labels ---------------------------------------------------------------------------------
    def valid_mask(self, label: torch.Tensor) -> torch.Tensor:
        return (label >= 0) & (label < self.num_classes)

    def blank_label(self, label: torch.Tensor) -> torch.Tensor:
        return torch.full_like(label, -1)

    def decode(self, array: np.ndarray) -> torch.Tensor:
        """``H×W`` class ids (any numeric dtype) → ``[H, W]`` long."""
        return torch.from_numpy(np.asarray(array)).round().long()

    def check_array(self, array: np.ndarray, hw: tuple[int, int]) -> str | None:
        if array.shape != hw:
            return f"shape {array.shape}, expected {hw} (H×W)."
        if not np.isfinite(array).all() or not np.array_equal(array, np.round(array)):
            return "semantic labels must be integers."
        bad = (array < -1) | (array >= self.num_classes)
        if bad.any():
            return (f"label values out of range (found {sorted(np.unique(array[bad]))[:5]}); "
                    f"expected −1 (ignored) or 0…{self.num_classes - 1}.")
        return None

    def describe_array(self) -> str:
        return f"H×W, −1 = ignored, classes 0…{self.num_classes - 1}"

    def follow_crop(self, label: torch.Tensor, p: CropParams, size: tuple[int, int]
                    ) -> torch.Tensor:
        return crop_resize(label[None].float(), p, size, "nearest")[0].to(label.dtype)

    def resize(self, label: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        if tuple(label.shape[-2:]) == tuple(size):
            return label
        return F.interpolate(label[None, None].float(), size=size)[0, 0].to(label.dtype)

    def random_label(self, batch: int, height: int, width: int,
                     generator: torch.Generator) -> torch.Tensor:
        return torch.randint(-1, self.num_classes, (batch, height, width), generator=generator)

    # -- predictions and losses -----------------------------------------------------------------
    def pixel_loss(self, pred: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """:math:`-\\log p_{y}` per pixel (logits in ``pred``)."""
        target = torch.where(self.valid_mask(label), label, torch.zeros_like(label)).long()
        return F.cross_entropy(pred, target, reduction="none")

    def prediction_distance(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Soft cross-entropy :math:`-\\sum_c \\mathrm{softmax}(t)_c \\log \\mathrm{softmax}(p)_c`."""
        return -(F.softmax(target, dim=1) * F.log_softmax(pred, dim=1)).sum(1)

    def consistency_view(self, pred: torch.Tensor) -> torch.Tensor:
        """Class probabilities :math:`\\mathrm{softmax}(o)`."""
        return F.softmax(pred, dim=1)

    # -- metrics --------------------------------------------------------------------------------
    def metric_prediction(self, pred: torch.Tensor) -> torch.Tensor:
        """The class map (argmax over the logits)."""
        return pred.argmax(1)

    def build_metric(self) -> Any:
        from bench.metrics.semantic import SemanticMetric

        return SemanticMetric(self.name, self.num_classes)

    def score_per_image(self, pred: torch.Tensor, label: torch.Tensor) -> list[float]:
        """mIoU (%) of each image, over the classes in its label or prediction."""
        from bench.metrics.semantic import confusion_per_image, semantic_scores

        conf = confusion_per_image(pred.argmax(1), label, self.num_classes).cpu().numpy()
        return [semantic_scores(c)["mIoU"] for c in conf]

    # -- cross-task mapping inputs --------------------------------------------------------------
    def encode_prediction(self, pred: torch.Tensor) -> torch.Tensor:
        """Hard Gumbel-softmax sample with straight-through gradient (official code, τ = 1).

        :math:`y = \\mathrm{onehot}(\\arg\\max_c (o_c + g_c))`, :math:`g = -\\log(-\\log u)`,
        :math:`u \\sim U(0, 1)` clamped away from 0 and 1 (so no NaN can arise, which the official
        code handles by re-sampling), gradient of :math:`\\mathrm{softmax}(o + g)`.
        """
        u = torch.rand_like(pred).clamp_(1e-10, 1.0 - 1e-7)
        soft = F.softmax(pred - torch.log(-torch.log(u)), dim=1)
        hard = F.one_hot(soft.argmax(1), pred.shape[1]).permute(0, 3, 1, 2).to(soft.dtype)
        return hard - soft.detach() + soft

    def encode_label(self, label: torch.Tensor) -> torch.Tensor:
        """One-hot ``[B, C, H, W]``; ignored pixels are all-zero."""
        valid = self.valid_mask(label)
        onehot = F.one_hot(torch.where(valid, label, 0).long(), self.num_classes)
        return (onehot * valid.unsqueeze(-1)).permute(0, 3, 1, 2).to(torch.float32)

    # -- figures --------------------------------------------------------------------------------
    def visualise(self, value: torch.Tensor, reference: torch.Tensor) -> np.ndarray:
        """Fixed palette per class; ignored pixels black. Logits ``[C, H, W]`` are argmaxed."""
        arr = value.detach().cpu().numpy()
        label = arr.argmax(0) if arr.ndim == 3 else arr
        valid = (label >= 0) & (label < self.num_classes)
        rgb = np.zeros((*label.shape, 3))
        rgb[valid] = palette(self.num_classes)[label[valid].astype(int)]
        return rgb
