"""The geometric oracle: normals from depth through the camera, and its consistency term."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from views import views

from bench.data.intrinsics import Intrinsics
from bench.data.nyuv2 import NYUv2
from bench.data.render.indoor import render_indoor
from bench.data.synthetic import SyntheticNYUv2
from bench.errors import BenchError
from bench.registry import METHODS
from bench.tasks.depth import DepthTask
from bench.tasks.normal import NormalTask
from bench.tasks.semantic import SemanticTask
from methods.oracle import depth_to_normals, masked_cosine_distance

H, W = 24, 32
CAMERA = Intrinsics(fx=28.0, fy=28.0, cx=16.0, cy=12.0, height=H, width=W)
TASKS = [SemanticTask(5), DepthTask(), NormalTask()]


def plane_depth(normal: tuple[float, float, float], offset: float, camera: Intrinsics
                ) -> torch.Tensor:
    """z-depth ``[1, 1, H, W]`` of the plane :math:`n \\cdot P = c` seen by ``camera``."""
    u = (torch.arange(camera.width, dtype=torch.float64) + 0.5 - camera.cx) / camera.fx
    v = (torch.arange(camera.height, dtype=torch.float64) + 0.5 - camera.cy) / camera.fy
    n = torch.tensor(normal, dtype=torch.float64)
    ray_dot = n[0] * u[None, :] + n[1] * v[:, None] + n[2]
    return (offset / ray_dot)[None, None]


@pytest.mark.parametrize("normal", [(0.0, 0.0, -1.0), (0.3, -0.2, -0.9), (-0.5, 0.4, -0.7)])
def test_normals_of_a_plane_are_its_normal_facing_the_camera(normal):
    n = F.normalize(torch.tensor(normal, dtype=torch.float64), dim=0)
    depth = plane_depth(tuple(n.tolist()), -3.0, CAMERA)
    assert (depth > 0).all()
    normals, valid = depth_to_normals(depth, CAMERA)
    assert valid[0, 1:-1, 1:-1].all() and not valid[0, 0].any() and not valid[0, :, -1].any()
    got = normals[0][:, valid[0]]
    torch.testing.assert_close(got, n[:, None].expand_as(got), atol=1e-9, rtol=0)


def test_normals_need_the_pixel_and_its_four_neighbours():
    depth = plane_depth((0.0, 0.0, -1.0), -2.0, CAMERA).clone()
    depth[0, 0, 10, 10] = 0  # missing depth
    _, valid = depth_to_normals(depth, CAMERA)
    for v, u in [(10, 10), (9, 10), (11, 10), (10, 9), (10, 11)]:
        assert not valid[0, v, u]
    assert valid[0, 12, 12]


def test_normals_of_the_synthetic_depth_labels_are_the_normal_labels():
    """On the renderer's ground truth at the protocol's size the geometry is exact."""
    h, w = 32, 48
    camera = SyntheticNYUv2.intrinsics((h, w))
    cosines = []
    for i in range(3):
        sample = render_indoor(np.random.default_rng([0, 0, i]), h, w)
        depth = torch.from_numpy(sample["depth"]).permute(2, 0, 1)[None].double()
        label = torch.from_numpy(sample["normal"]).permute(2, 0, 1)[None].double()
        normals, valid = depth_to_normals(depth, camera)
        valid &= label.abs().sum(1) > 0
        cosines.append((normals * label).sum(1)[valid])
    cos = torch.cat(cosines)
    assert float(cos.median()) > 0.999
    assert float((cos > 0.9).double().mean()) > 0.7  # the rest lie at depth discontinuities


def test_kinect_intrinsics_scale_with_the_image():
    full, half = NYUv2.intrinsics((288, 384)), NYUv2.intrinsics((144, 192))
    assert half.fx == pytest.approx(full.fx / 2) and half.cy == pytest.approx(full.cy / 2)
    assert full.fx == pytest.approx(518.857901 * 384 / 640, rel=1e-9)


def test_masked_cosine_distance():
    a = F.normalize(torch.randn(2, 3, 4, 4), dim=1)
    valid = torch.zeros(2, 4, 4, dtype=torch.bool)
    valid[0, :2] = True
    d = masked_cosine_distance(a, a, valid)
    torch.testing.assert_close(d, torch.zeros(2))  # row 1 has no valid pixel: 0
    d = masked_cosine_distance(a, -a, valid)
    assert d[0] == pytest.approx(2.0) and d[1] == 0


def scene_batch(b: int, seed: int = 0):
    """``b`` rendered images' depth and normal labels at H×W."""
    depth, normal = [], []
    for i in range(b):
        sample = render_indoor(np.random.default_rng([seed, 0, i]), H, W)
        depth.append(torch.from_numpy(sample["depth"]).permute(2, 0, 1))
        normal.append(torch.from_numpy(sample["normal"]).permute(2, 0, 1))
    return torch.stack(depth), torch.stack(normal)


def oracle_losses(variant: str, preds: dict, labels: dict, mask: torch.Tensor, seed: int = 0):
    torch.manual_seed(0)
    model = METHODS.build({"type": variant, "tasks": TASKS, "width": 0.0625,
                           "camera": SyntheticNYUv2.intrinsics((H, W))})
    torch.manual_seed(seed)
    return model.extra_losses(views(mask, preds, labels))


def test_oracle_is_small_on_true_pairs_and_large_on_shuffled_ones():
    b = 6
    depth, normal = scene_batch(b)
    semantic = torch.zeros(b, H, W, dtype=torch.long)
    labels = {"semantic": semantic, "depth": depth, "normal": normal}
    preds = {"semantic": torch.zeros(b, 5, H, W), "depth": depth.clone(),
             "normal": normal.clone()}
    mask = torch.tensor([[0, 1, 0], [0, 0, 1]] * 3, dtype=torch.bool)
    true = oracle_losses("oracle-geometry", preds, labels, mask)["oracle_distance"]
    shuffled = oracle_losses("oracle-geometry-shuffled", preds, labels, mask)["oracle_distance"]
    assert float(true) < 0.25 and float(shuffled) > float(true) + 0.2


def test_oracle_term_follows_its_equation_and_has_gradients():
    b = 4
    depth, normal = scene_batch(b, seed=1)
    labels = {"semantic": torch.zeros(b, H, W, dtype=torch.long), "depth": depth,
              "normal": normal}
    pred_depth = (depth + 0.5).requires_grad_()
    pred_normal = F.normalize(torch.randn(b, 3, H, W), dim=1).requires_grad_()
    preds = {"semantic": torch.zeros(b, 5, H, W), "depth": pred_depth, "normal": pred_normal}
    # image 0: normals labelled (row: normals of the predicted depth vs its normal label);
    # image 1: depth labelled (row: predicted normals vs normals of its depth label);
    # image 2: every task labelled (every ordered pair, so both rows); image 3: semantic only
    # (no geometric row)
    mask = torch.tensor([[0, 0, 1], [0, 1, 0], [1, 1, 1], [1, 0, 0]], dtype=torch.bool)
    out = oracle_losses("oracle-geometry", preds, labels, mask)
    camera = SyntheticNYUv2.intrinsics((H, W))

    def from_depth(i):
        mine, defined = depth_to_normals(pred_depth[i:i + 1], camera)
        return masked_cosine_distance(mine, normal[i:i + 1],
                                      defined & (normal[i:i + 1].abs().sum(1) > 0))

    def from_normals(i):
        theirs, valid = depth_to_normals(depth[i:i + 1], camera)
        return masked_cosine_distance(pred_normal[i:i + 1], theirs, valid)

    expected = (from_depth(0) + from_normals(1) + from_depth(2) + from_normals(2)) / b
    torch.testing.assert_close(out["loss_oracle"], expected.squeeze())
    out["loss_oracle"].backward()
    assert pred_depth.grad.abs().sum() > 0 and pred_normal.grad.abs().sum() > 0


def test_oracle_refuses_a_dataset_without_camera_or_geometry():
    with pytest.raises(BenchError, match="camera"):
        METHODS.build({"type": "oracle-geometry", "tasks": TASKS, "width": 0.0625})
    with pytest.raises(BenchError, match="depth and normal"):
        METHODS.build({"type": "oracle-geometry", "tasks": TASKS[:2], "width": 0.0625,
                       "camera": CAMERA})
