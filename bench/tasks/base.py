"""The :class:`Task` interface: everything the harness needs to know about one dense task.

A task owns, in one class:

* its head: output channels and how raw outputs become predictions (:meth:`Task.activate`);
* its labels: which pixels are missing (:meth:`Task.valid_mask`), what a dropped label becomes
  (:meth:`Task.blank_label`), how a stored array is checked and decoded
  (:meth:`Task.check_array`, :meth:`Task.decode`), how a label follows a crop, zoom, flip,
  rotation or resize (:meth:`Task.follow_crop`, :meth:`Task.follow_flip`,
  :meth:`Task.follow_rotation`, :meth:`Task.resize`);
* its supervised loss :math:`L^t` of Eq. 1 (:meth:`Task.per_image_loss`, with the protocol's
  :attr:`Task.loss_weight`) and a distance between two predictions
  (:meth:`Task.prediction_distance`);
* its metrics: the reported numbers with their directions (:attr:`Task.metrics`), the metric
  object that accumulates them over a split (:meth:`Task.build_metric`) and a per-image score;
* its encoding as input of a cross-task mapping network (:meth:`Task.encode_prediction`,
  :meth:`Task.encode_label`) and the values a consistency loss compares
  (:meth:`Task.consistency_view`);
* its visualisation (:meth:`Task.visualise`).

Nothing outside :mod:`bench.tasks` switches on the type of a task: a new task is one class.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from bench.tasks.spatial import CropParams, crop_resize
from bench.tasks.spatial import resize as resize_map


@dataclass(frozen=True)
class MetricSpec:
    """One reported number of a task."""

    key: str
    label: str
    higher_is_better: bool
    decimals: int
    #: unit for axis labels ("%", "°"; empty: the dataset's own unit)
    unit: str = ""


class Task(ABC):
    """Base class of a dense prediction task (one instance per task of a dataset)."""

    name: str = ""
    #: long and short names for tables and figures ("Segmentation", "Seg.")
    title: str = ""
    abbrev: str = ""
    channels: int = 0
    metrics: tuple[MetricSpec, ...] = ()
    primary: str = ""
    #: how a label is resampled when the image is zoomed (``nearest`` or ``bilinear``)
    crop_mode: str = "nearest"
    #: factor of the task's loss in the supervised objective (a protocol's per-task loss weight)
    loss_weight: float = 1.0

    @dataclass(frozen=True)
    class Options:
        """A task takes no options from a profile: its dataset builds it with its arguments."""

    # -- labels ---------------------------------------------------------------------------------
    @abstractmethod
    def valid_mask(self, label: torch.Tensor) -> torch.Tensor:
        """Boolean ``[B, H, W]`` mask of the labelled pixels of a batched label."""

    @abstractmethod
    def blank_label(self, label: torch.Tensor) -> torch.Tensor:
        """The same label with every pixel missing: what a label the regime drops becomes."""

    def decode(self, array: np.ndarray) -> torch.Tensor:
        """A stored ``H×W×C`` array → the label tensor ``[C, H, W]`` (float)."""
        return torch.from_numpy(np.ascontiguousarray(np.asarray(array, np.float32)
                                                     .transpose(2, 0, 1)))

    @abstractmethod
    def check_array(self, array: np.ndarray, hw: tuple[int, int]) -> str | None:
        """What is wrong with a stored label array of an ``hw`` image, or ``None``."""

    @abstractmethod
    def describe_array(self) -> str:
        """What a stored label array holds, for the expected-layout message."""

    def follow_crop(self, label: torch.Tensor, p: CropParams, size: tuple[int, int]
                    ) -> torch.Tensor:
        """The label of the scale-crop ``p`` of the image, resized back to ``size``."""
        return self.follow_zoom(crop_resize(label, p, size, self.crop_mode), p.scale)

    def follow_zoom(self, values: torch.Tensor, scale: float | torch.Tensor) -> torch.Tensor:
        """Label values after zooming into the image by ``scale`` (unchanged unless overridden)."""
        return values

    def follow_flip(self, label: torch.Tensor) -> torch.Tensor:
        """The label of the horizontally mirrored image."""
        return label.flip(-1)

    def follow_rotation(self, label: torch.Tensor, angle: float) -> torch.Tensor:
        """Label values after rotating the image content by ``angle`` radians (unchanged unless
        overridden: the pixels move, the values do not; see :mod:`bench.data.affine`)."""
        return label

    def resize(self, label: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """The label at another resolution (nearest neighbour)."""
        return resize_map(label, size, "nearest")

    def random_label(self, batch: int, height: int, width: int,
                     generator: torch.Generator) -> torch.Tensor:
        """A random batched label (benchmarks of step time)."""
        raise NotImplementedError(f"{type(self).__name__} has no random labels")

    # -- predictions and losses -----------------------------------------------------------------
    def activate(self, raw: torch.Tensor) -> torch.Tensor:
        """Head output → prediction in label space (identity unless overridden)."""
        return raw

    @abstractmethod
    def pixel_loss(self, pred: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """Per-pixel loss ``[B, H, W]`` (value at missing pixels is irrelevant)."""

    def per_image_loss(self, pred: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """:math:`L^t` per image, ``[B]``: :attr:`loss_weight` times the mean of
        :meth:`pixel_loss` over the valid pixels.

        Images without a valid pixel get loss 0 (they carry no supervision for this task).
        """
        valid = self.valid_mask(label)
        loss = torch.where(valid, self.pixel_loss(pred, label), torch.zeros((), device=pred.device))
        count = valid.flatten(1).sum(1)
        mean = loss.flatten(1).sum(1) / count.clamp_min(1)
        return mean if self.loss_weight == 1.0 else self.loss_weight * mean

    @abstractmethod
    def prediction_distance(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-pixel distance ``[B, H, W]`` between two predictions in this task's label space."""

    def consistency_view(self, pred: torch.Tensor) -> torch.Tensor:
        """The values a consistency loss between two predictions compares (the prediction)."""
        return pred

    # -- metrics --------------------------------------------------------------------------------
    def metric_prediction(self, pred: torch.Tensor) -> torch.Tensor:
        """A batched prediction in the form its metric reads (the prediction itself)."""
        return pred

    @abstractmethod
    def build_metric(self) -> Any:
        """The mmengine ``BaseMetric`` accumulating this task's metrics over a split."""

    @abstractmethod
    def score_per_image(self, pred: torch.Tensor, label: torch.Tensor) -> list[float]:
        """The primary metric of each image of a batch (figures)."""

    @property
    def primary_metric(self) -> MetricSpec:
        return next(m for m in self.metrics if m.key == self.primary)

    # -- cross-task mapping inputs --------------------------------------------------------------
    @abstractmethod
    def encode_prediction(self, pred: torch.Tensor) -> torch.Tensor:
        """Prediction → input of a cross-task mapping network (differentiable)."""

    @abstractmethod
    def encode_label(self, label: torch.Tensor) -> torch.Tensor:
        """Label → input of a cross-task mapping network, with the same channels."""

    # -- figures --------------------------------------------------------------------------------
    @abstractmethod
    def visualise(self, value: torch.Tensor, reference: torch.Tensor) -> np.ndarray:
        """A label or prediction of one image (``[C, H, W]`` or ``[H, W]``) as RGB ``[H, W, 3]``
        in [0, 1]; ``reference`` is the image's label (e.g. for a shared colour range)."""

    def describe(self) -> dict[str, Any]:
        """What a record stores about the task: names and metrics."""
        return {"name": self.name, "title": self.title, "abbrev": self.abbrev,
                "primary": self.primary,
                "metrics": [{"key": m.key, "label": m.label,
                             "higher_is_better": m.higher_is_better, "decimals": m.decimals,
                             "unit": m.unit} for m in self.metrics]}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, channels={self.channels})"


MISSING_GREY = 0.6  # colour of missing pixels in figures
