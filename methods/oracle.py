"""An analytic oracle of cross-task signal: depth ↔ surface normals through the camera.

The positive control of the cross-task comparisons: a consistency term whose task relation is
known exactly (the surface normals of a depth map follow from the camera intrinsics), with no
mapping to learn, so it cannot collapse. If this oracle does not beat its shuffled control, the
benchmark cannot resolve cross-task signal at all, whatever a learned method does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from bench.data.intrinsics import Intrinsics
from bench.errors import BenchError
from bench.metadata import MethodInfo
from bench.method.base import TrainingViews
from bench.method.crosstask import CrossTaskMethod
from bench.registry import register_method, register_method_variant
from bench.tasks import Task


def depth_to_normals(depth: torch.Tensor, camera: Intrinsics) -> tuple[torch.Tensor, torch.Tensor]:
    """Surface normals ``[B, 3, H, W]`` of depth maps ``[B, 1, H, W]``, and where they are
    defined ``[B, H, W]``.

    Every pixel back-projects to :math:`P = ((u + ½ - c_x) d / f_x, (v + ½ - c_y) d / f_y, d)`
    (:mod:`bench.data.intrinsics`); the normal is the unit cross product of the central
    differences :math:`n \\propto -(P_{u+1} - P_{u-1}) \\times (P_{v+1} - P_{v-1})`, turned to
    face the camera (:math:`n \\cdot P < 0`), in the camera frame of the NYUv2 normal maps (x
    right, y down, z forward). It is defined where the pixel and its four neighbours have a
    depth (> 0), inside the image border. On the synthetic NYUv2 ground truth the normals of
    the depth labels equal the normal labels (median cosine 1.0; 82–85 % of the pixels above
    0.9, the rest at depth discontinuities).
    """
    if depth.shape[-2:] != (camera.height, camera.width):
        camera = camera.at(*depth.shape[-2:])
    b, _, h, w = depth.shape
    u = (torch.arange(w, device=depth.device, dtype=depth.dtype) + 0.5 - camera.cx) / camera.fx
    v = (torch.arange(h, device=depth.device, dtype=depth.dtype) + 0.5 - camera.cy) / camera.fy
    d = depth[:, 0]
    points = torch.stack([u[None, None, :] * d, v[None, :, None] * d, d], 1)
    du = F.pad(points[..., 2:] - points[..., :-2], (1, 1, 0, 0))
    dv = F.pad(points[..., 2:, :] - points[..., :-2, :], (0, 0, 1, 1))
    normals = F.normalize(-torch.cross(du, dv, dim=1), dim=1, eps=1e-12)
    facing = (normals * points).sum(1, keepdim=True) > 0
    normals = torch.where(facing, -normals, normals)
    has = d > 0
    valid = torch.zeros_like(has)
    valid[:, 1:-1, 1:-1] = (has[:, 1:-1, 1:-1] & has[:, :-2, 1:-1] & has[:, 2:, 1:-1]
                            & has[:, 1:-1, :-2] & has[:, 1:-1, 2:])
    return normals, valid


def masked_cosine_distance(a: torch.Tensor, b: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Per row: :math:`1 - \\frac{1}{|V|}\\sum_{p \\in V} a_p \\cdot b_p` over the valid pixels
    ``V`` of unit maps ``[R, 3, H, W]`` (0 for a row without valid pixels)."""
    dot = (a * b).sum(1)
    count = valid.flatten(1).sum(1)
    return torch.where(count > 0, 1.0 - (dot * valid).flatten(1).sum(1) / count.clamp_min(1),
                       dot.new_zeros(()))


@register_method("oracle-geometry", MethodInfo(
    summary="Analytic oracle of cross-task signal: normals of the predicted depth against the "
            "normal labels, and predicted normals against the normals of the depth labels",
    display="Geometric oracle", short="Oracle", family="oracle-geometry", colour="#332288",
    order=90, in_all=False, sets=("power", "oracles"), needs_tasks=("depth", "normal")))
class GeometricOracle(CrossTaskMethod):
    """Depth ↔ normals consistency through the camera intrinsics (Taskology-style, the paper's
    ref. [39]): a cross-task term whose relation is exact and needs no mapping.

    For image :math:`n` with normals labelled and depth not, and for image :math:`n` with depth
    labelled and normals not (every ordered pair of the two when both are labelled, as the
    other cross-task methods pair them):

    .. math::
        \\ell_n = [\\,d \\notin \\mathcal T_n, n \\in \\mathcal T_n\\,]\\,
                  D\\big(N(\\hat d_n), n_n\\big)
                + [\\,n \\notin \\mathcal T_n, d \\in \\mathcal T_n\\,]\\,
                  D\\big(\\hat n_n, N(d_n)\\big),
        \\qquad \\mathcal L = \\mathcal L_{\\text{Eq.1}} + \\lambda \\tfrac1B \\sum_n \\ell_n

    with :math:`N` the normals of a depth map (:func:`depth_to_normals`), :math:`D` the mean
    cosine distance over the pixels where both sides are defined, :math:`\\lambda = 1` (the term
    weighs as one more normal label). Choices: the term is computed on the main view (whose
    intrinsics are the dataset's at the run's size, :meth:`bench.data.base.DenseDataset.
    intrinsics`; exact without scale-crop augmentation, as in the CPU profiles, approximate with
    it), and both sides receive gradient where they are predictions. Its negative control
    ``oracle-geometry-shuffled`` takes each row's label from another image, with the same rows
    and normalisation.
    """

    needs_second_view = False

    @dataclass(frozen=True)
    class Options(CrossTaskMethod.Options):
        con_weight: float = 1.0

    def __init__(self, tasks: Sequence[Task], **kwargs: Any) -> None:
        super().__init__(tasks, **kwargs)
        names = [t.name for t in self.tasks]
        if "depth" not in names or "normal" not in names:
            raise BenchError(f"oracle-geometry needs depth and normal tasks; this dataset has "
                             f"{', '.join(names)}.", "Run it on NYUv2 or synthetic-nyuv2.")
        if self.camera is None:
            raise BenchError("oracle-geometry needs the camera of the images, and this dataset "
                             "declares none (DenseDataset.intrinsics).",
                             "Run it on a dataset that declares its intrinsics (NYUv2, "
                             "synthetic-nyuv2).")
        self.depth_index, self.normal_index = names.index("depth"), names.index("normal")

    def extra_losses(self, views: TrainingViews) -> dict[str, torch.Tensor]:
        n, s, t, m = self.consistency_rows(views.mask)
        geometric = ((s == self.depth_index) & (t == self.normal_index)) | (
            (s == self.normal_index) & (t == self.depth_index))
        n, s, t, m = n[geometric], s[geometric], t[geometric], m[geometric]
        if n.numel() == 0:
            return {}
        view = views.main
        labels = self.target_labels(view, views.mask).labels
        values = torch.zeros(n.shape, device=n.device, dtype=view.preds["depth"].dtype)
        from_depth = s == self.depth_index
        if from_depth.any():  # the normals of the predicted depth vs the normal labels
            rows = from_depth.nonzero().squeeze(1)
            mine, defined = depth_to_normals(view.preds["depth"][n[rows]], self.camera)
            label = labels["normal"][m[rows]]
            valid = defined & (label.abs().sum(1) > 0)
            values = values.index_put((rows,), masked_cosine_distance(mine, label, valid))
        from_normals = ~from_depth
        if from_normals.any():  # the predicted normals vs the normals of the depth labels
            rows = from_normals.nonzero().squeeze(1)
            theirs, valid = depth_to_normals(labels["depth"][m[rows]], self.camera)
            values = values.index_put((rows,), masked_cosine_distance(
                view.preds["normal"][n[rows]], theirs, valid))
        return {"loss_oracle": self.con_weight * self.reduce_rows(values, n, s, views.batch_size),
                "oracle_distance": values.mean().detach()}


register_method_variant("oracle-geometry-shuffled", GeometricOracle, MethodInfo(
    summary="Negative control of the geometric oracle: each row's label comes from another image",
    display="Geometric oracle (shuffled pairs)", short="Oracle shuffled",
    family="oracle-geometry", colour="#88CCEE", order=91, in_all=False, sets=("controls",),
    control_of="oracle-geometry", needs_tasks=("depth", "normal")), shuffle_targets=True)
