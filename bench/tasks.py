"""Dense prediction tasks: output channels, supervised loss, ignore rule, metrics, encodings.

A :class:`Task` knows everything about one kind of dense label that the rest of the harness needs:

* how many channels the network head outputs and how raw head outputs become predictions;
* which label pixels are missing (semantic ``-1``; depth ``0``; normals all-zero);
* the per-image supervised loss :math:`L^t` of Eq. 1 of the paper, averaged over the valid pixels
  of each image (so one image's loss does not depend on the others in the batch);
* its metrics, each with a direction (higher or lower is better) and the primary one used in Δm;
* how a prediction or a label is encoded as input to a cross-task mapping network (official
  MTPSL code: hard Gumbel-softmax / one-hot for semantics, depth divided by its per-image maximum,
  normals as ``(n + 1) / 2``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class MetricSpec:
    """One reported number of a task."""

    key: str
    label: str
    higher_is_better: bool
    decimals: int


class Task:
    """Base class of a dense prediction task."""

    name: str = ""
    display: str = ""
    channels: int = 0
    metrics: tuple[MetricSpec, ...] = ()
    primary: str = ""

    # -- labels ---------------------------------------------------------------------------------
    def valid_mask(self, label: torch.Tensor) -> torch.Tensor:
        """Boolean ``[B, H, W]`` mask of the labelled pixels of a batched label."""
        raise NotImplementedError

    def blank_label(self, label: torch.Tensor) -> torch.Tensor:
        """The same label with every pixel marked missing (used for unlabelled tasks)."""
        raise NotImplementedError

    # -- predictions ----------------------------------------------------------------------------
    def activate(self, raw: torch.Tensor) -> torch.Tensor:
        """Head output → prediction in label space (identity unless overridden)."""
        return raw

    def pixel_loss(self, pred: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """Per-pixel loss ``[B, H, W]`` (value at missing pixels is irrelevant)."""
        raise NotImplementedError

    def per_image_loss(self, pred: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """:math:`L^t` per image, ``[B]``: mean of :meth:`pixel_loss` over the valid pixels.

        Images without a valid pixel get loss 0 (they carry no supervision for this task).
        """
        valid = self.valid_mask(label)
        loss = torch.where(valid, self.pixel_loss(pred, label), torch.zeros((), device=pred.device))
        count = valid.flatten(1).sum(1)
        return loss.flatten(1).sum(1) / count.clamp_min(1)

    def prediction_distance(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-pixel distance ``[B, H, W]`` between two predictions in this task's label space."""
        raise NotImplementedError

    # -- cross-task mapping inputs --------------------------------------------------------------
    def encode_prediction(self, pred: torch.Tensor) -> torch.Tensor:
        """Prediction → input of a cross-task mapping network (differentiable)."""
        raise NotImplementedError

    def encode_label(self, label: torch.Tensor) -> torch.Tensor:
        """Label → input of a cross-task mapping network, with the same channels."""
        raise NotImplementedError

    @property
    def primary_metric(self) -> MetricSpec:
        return next(m for m in self.metrics if m.key == self.primary)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, channels={self.channels})"


class SemanticTask(Task):
    """Semantic segmentation: per-pixel cross-entropy, labels ``-1`` ignored, mIoU."""

    display = "Seg."

    def __init__(self, num_classes: int, name: str = "semantic") -> None:
        self.name = name
        self.num_classes = num_classes
        self.channels = num_classes
        self.metrics = (
            MetricSpec("mIoU", "mIoU", True, 2),
            MetricSpec("pixAcc", "Pix Acc", True, 2),
        )
        self.primary = "mIoU"

    def valid_mask(self, label: torch.Tensor) -> torch.Tensor:
        return (label >= 0) & (label < self.num_classes)

    def blank_label(self, label: torch.Tensor) -> torch.Tensor:
        return torch.full_like(label, -1)

    def pixel_loss(self, pred: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """:math:`-\\log p_{y}` per pixel (logits in ``pred``)."""
        target = torch.where(self.valid_mask(label), label, torch.zeros_like(label)).long()
        return F.cross_entropy(pred, target, reduction="none")

    def prediction_distance(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Soft cross-entropy :math:`-\\sum_c \\mathrm{softmax}(t)_c \\log \\mathrm{softmax}(p)_c`."""
        return -(F.softmax(target, dim=1) * F.log_softmax(pred, dim=1)).sum(1)

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


class DepthTask(Task):
    """Depth (or inverse depth): L1 over valid pixels (label ``0`` = missing); absolute error."""

    display = "Depth"

    def __init__(self, name: str = "depth", decimals: int = 4, inverse: bool = False) -> None:
        self.name = name
        self.inverse = inverse
        self.channels = 1
        self.metrics = (
            MetricSpec("absErr", "aErr", False, decimals),
            MetricSpec("relErr", "rErr", False, decimals),
        )
        self.primary = "absErr"

    def valid_mask(self, label: torch.Tensor) -> torch.Tensor:
        return label[:, 0] != 0

    def blank_label(self, label: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(label)

    def pixel_loss(self, pred: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """:math:`|\\hat d - d|` per pixel."""
        return (pred - label).abs()[:, 0]

    def prediction_distance(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """:math:`|a - b|` per pixel."""
        return (pred - target).abs()[:, 0]

    def encode_prediction(self, pred: torch.Tensor) -> torch.Tensor:
        """Depth divided by its per-image maximum (official code: ``pred / (pred.max() + 1e-12)``)."""
        peak = pred.flatten(1).amax(1).view(-1, 1, 1, 1)
        return pred / (peak + 1e-12)

    def encode_label(self, label: torch.Tensor) -> torch.Tensor:
        peak = label.flatten(1).amax(1).view(-1, 1, 1, 1)
        return label / (peak + 1e-12)


class NormalTask(Task):
    """Surface normals: cosine loss over valid pixels (all-zero label = missing); angle errors."""

    display = "Norm."

    def __init__(self, name: str = "normal") -> None:
        self.name = name
        self.channels = 3
        self.metrics = (
            MetricSpec("mean", "mErr", False, 2),
            MetricSpec("median", "medErr", False, 2),
            MetricSpec("within11.25", "11.25°", True, 2),
            MetricSpec("within22.5", "22.5°", True, 2),
            MetricSpec("within30", "30°", True, 2),
        )
        self.primary = "mean"

    def valid_mask(self, label: torch.Tensor) -> torch.Tensor:
        return (label != 0).any(1)

    def blank_label(self, label: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(label)

    def activate(self, raw: torch.Tensor) -> torch.Tensor:
        """Unit-length normals: :math:`\\hat n = o / \\lVert o \\rVert`."""
        return F.normalize(raw, dim=1, eps=1e-12)

    def pixel_loss(self, pred: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """:math:`1 - \\hat n \\cdot n` per pixel."""
        return 1.0 - (pred * label).sum(1)

    def prediction_distance(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """:math:`1 - a \\cdot b` per pixel."""
        return 1.0 - (pred * target).sum(1)

    def encode_prediction(self, pred: torch.Tensor) -> torch.Tensor:
        """:math:`(n + 1) / 2` (official code)."""
        return (pred + 1.0) / 2.0

    def encode_label(self, label: torch.Tensor) -> torch.Tensor:
        return (label + 1.0) / 2.0
