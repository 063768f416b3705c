"""SegNet: parameter compatibility with the official MTAN/MTPSL NYUv2 SegNet, width multiplier."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from bench.data.nyuv2 import NYUv2
from bench.nets.segnet import SegNet, segnet_filters

FIXTURE = Path(__file__).parent / "fixtures" / "mtpsl_segnet_nyuv2_shapes.json"


def test_width_one_matches_official_state_dict_names_and_shapes():
    official = json.loads(FIXTURE.read_text())["shapes"]
    ours = {k: list(v.shape) for k, v in SegNet(NYUv2.build_tasks(), width=1.0).state_dict().items()}
    assert ours == official


def test_official_checkpoint_loads_strictly():
    official = json.loads(FIXTURE.read_text())["shapes"]
    state = {}
    for k, shape in official.items():
        state[k] = (torch.tensor(7) if k.endswith("num_batches_tracked")
                    else torch.randn(shape))
    net = SegNet(NYUv2.build_tasks(), width=1.0)
    net.load_state_dict(state, strict=True)
    assert torch.equal(net.pred_task2[1].weight, state["pred_task2.1.weight"])


def test_width_multiplier_scales_filters_and_keeps_names():
    small = SegNet(NYUv2.build_tasks(), width=0.25)
    full = SegNet(NYUv2.build_tasks(), width=1.0)
    assert segnet_filters(0.25) == [16, 32, 64, 128, 128]
    assert small.state_dict().keys() == full.state_dict().keys()
    assert small.encoder_block[0][0].weight.shape == (16, 3, 3, 3)


def test_forward_shapes_and_unit_normals():
    net = SegNet(NYUv2.build_tasks(), width=0.125).eval()
    preds, feat = net(torch.rand(2, 3, 64, 96))
    assert preds["semantic"].shape == (2, 13, 64, 96)
    assert preds["depth"].shape == (2, 1, 64, 96)
    assert preds["normal"].shape == (2, 3, 64, 96)
    assert torch.allclose(preds["normal"].norm(dim=1), torch.ones(2, 64, 96), atol=1e-5)
    assert feat.shape == (2, 64, 2, 3)  # last pooled encoder map, H/32 × W/32


def test_bad_width_rejected():
    with pytest.raises(ValueError):
        segnet_filters(0)
