"""Base of the per-pixel binary tasks (saliency, edges): logits out, labels 0 / 1, −1 missing.

A label is ``[1, H, W]`` float with 1 (positive), 0 (negative) and −1 (missing: a dropped label,
or pixels an augmentation moved in from outside the image). The head outputs one logit
:math:`o` per pixel; the prediction a metric reads, a mapping receives and a consistency loss
compares is the probability :math:`\\sigma(o)`. Subclasses set the positive-class weight of the
cross-entropy (:meth:`BinaryTask.positive_weight`) and their metric.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from bench.tasks.base import MISSING_GREY, Task


class BinaryTask(Task):
    """Per-pixel binary task with a weighted binary cross-entropy on logits."""

    channels = 1

    # -- labels ---------------------------------------------------------------------------------
    def valid_mask(self, label: torch.Tensor) -> torch.Tensor:
        return label[:, 0] >= 0

    def blank_label(self, label: torch.Tensor) -> torch.Tensor:
        return torch.full_like(label, -1.0)

    def decode(self, array: np.ndarray) -> torch.Tensor:
        """``H×W`` array of 0 / 1 (−1 missing) → ``[1, H, W]`` float."""
        return torch.from_numpy(np.ascontiguousarray(np.asarray(array, np.float32)))[None]

    def check_array(self, array: np.ndarray, hw: tuple[int, int]) -> str | None:
        if array.shape != hw:
            return f"shape {array.shape}, expected {hw} (H×W)."
        if not np.isin(array, (-1, 0, 1)).all():
            found = sorted(np.unique(array[~np.isin(array, (-1, 0, 1))]).tolist())[:5]
            return f"values must be 0, 1 (or −1 = missing); found {found}."
        return None

    def describe_array(self) -> str:
        return "H×W, 1 = positive, 0 = negative, −1 = missing"

    def random_label(self, batch: int, height: int, width: int,
                     generator: torch.Generator) -> torch.Tensor:
        return (torch.rand(batch, 1, height, width, generator=generator) < 0.2).float()

    # -- predictions and losses -----------------------------------------------------------------
    def positive_weight(self, label: torch.Tensor) -> torch.Tensor:
        """Weight :math:`w` of the positive pixels per image ``[B, 1, 1]`` (negatives: 1 − w)."""
        raise NotImplementedError

    def pixel_loss(self, pred: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """:math:`-w\\,y \\log \\sigma(o) - (1-w)(1-y) \\log(1-\\sigma(o))` per pixel."""
        y = (label[:, 0] > 0.5).to(pred.dtype)
        w = self.positive_weight(label).to(pred.dtype)
        logit = pred[:, 0]
        return -(w * y * F.logsigmoid(logit) + (1 - w) * (1 - y) * F.logsigmoid(-logit))

    def prediction_distance(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Soft binary cross-entropy
        :math:`-[\\sigma(t)\\log\\sigma(p) + (1-\\sigma(t))\\log(1-\\sigma(p))]`."""
        t = torch.sigmoid(target[:, 0])
        return -(t * F.logsigmoid(pred[:, 0]) + (1 - t) * F.logsigmoid(-pred[:, 0]))

    def consistency_view(self, pred: torch.Tensor) -> torch.Tensor:
        """The probability :math:`\\sigma(o)`."""
        return torch.sigmoid(pred)

    def metric_prediction(self, pred: torch.Tensor) -> torch.Tensor:
        """The probability :math:`\\sigma(o)` ``[B, 1, H, W]``."""
        return torch.sigmoid(pred)

    # -- cross-task mapping inputs --------------------------------------------------------------
    def encode_prediction(self, pred: torch.Tensor) -> torch.Tensor:
        """The probability :math:`\\sigma(o)`."""
        return torch.sigmoid(pred)

    def encode_label(self, label: torch.Tensor) -> torch.Tensor:
        """1 on positive pixels, 0 elsewhere (missing pixels too)."""
        return (label > 0.5).to(torch.float32)

    # -- figures --------------------------------------------------------------------------------
    def visualise(self, value: torch.Tensor, reference: torch.Tensor) -> np.ndarray:
        """Grey levels: a label's 0 / 1 or a prediction's probability; missing pixels grey."""
        arr = value.detach().cpu().float()
        arr = arr[0] if arr.dim() == 3 else arr
        is_label = bool(((arr == 0) | (arr == 1) | (arr == -1)).all())
        grey = arr.numpy() if is_label else torch.sigmoid(arr).numpy()
        rgb = np.repeat(np.clip(grey, 0, 1)[..., None], 3, axis=-1)
        if is_label:
            rgb[arr.numpy() < 0] = MISSING_GREY
        return rgb
