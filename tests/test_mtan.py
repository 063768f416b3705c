"""MTAN: parameter names and shapes of lorenmt/mtan's NYUv2 model, attention, shared parameters."""

from __future__ import annotations

import torch

from bench.data.nyuv2 import NYUv2
from bench.nets.mtan import MTANSegNet

FILTERS = [64, 128, 256, 512, 512]


def conv_unit(prefix: str, cin: int, cout: int) -> dict[str, list[int]]:
    """A 3×3 conv + BatchNorm + ReLU block as ``nn.Sequential`` names its tensors."""
    return {f"{prefix}.0.weight": [cout, cin, 3, 3], f"{prefix}.0.bias": [cout],
            f"{prefix}.1.weight": [cout], f"{prefix}.1.bias": [cout],
            f"{prefix}.1.running_mean": [cout], f"{prefix}.1.running_var": [cout],
            f"{prefix}.1.num_batches_tracked": []}


def attention_unit(prefix: str, cin: int, mid: int, cout: int) -> dict[str, list[int]]:
    """1×1 conv, BN, ReLU, 1×1 conv, BN, sigmoid: indices 0, 1, 3, 4 hold tensors."""
    out: dict[str, list[int]] = {}
    for conv, bn, a, b in ((0, 1, cin, mid), (3, 4, mid, cout)):
        out |= {f"{prefix}.{conv}.weight": [b, a, 1, 1], f"{prefix}.{conv}.bias": [b],
                f"{prefix}.{bn}.weight": [b], f"{prefix}.{bn}.bias": [b],
                f"{prefix}.{bn}.running_mean": [b], f"{prefix}.{bn}.running_var": [b],
                f"{prefix}.{bn}.num_batches_tracked": []}
    return out


def expected_mtan_state(classes: int = 13) -> dict[str, list[int]]:
    """The tensors of the MTAN NYUv2 SegNet (im2im_pred/model_segnet_mtan.py), written from its
    structure: shared SegNet stages, three tasks × five encoder and five decoder attention
    modules, the shared attention-path conv blocks, the heads and the log-variances."""
    f = FILTERS
    s: dict[str, list[int]] = {"logsigma": [3]}
    for i in range(5):
        cin = 3 if i == 0 else f[i - 1]
        s |= conv_unit(f"encoder_block.{i}", cin, f[i])
        s |= conv_unit(f"decoder_block.{i}", f[i], f[i - 1] if i else f[0])
    s |= conv_unit("conv_block_enc.0", f[0], f[0]) | conv_unit("conv_block_dec.0", f[0], f[0])
    s |= conv_unit("conv_block_enc.1", f[1], f[1]) | conv_unit("conv_block_dec.1", f[0], f[0])
    for i in range(2, 5):  # two conv units per stage from the third on
        for j in range(2):
            s |= conv_unit(f"conv_block_enc.{i}.{j}", f[i], f[i])
            s |= conv_unit(f"conv_block_dec.{i}.{j}", f[i - 1], f[i - 1])
    for t in range(3):
        s |= attention_unit(f"encoder_att.{t}.0", f[0], f[0], f[0])
        s |= attention_unit(f"decoder_att.{t}.0", 2 * f[0], f[0], f[0])
        for i in range(1, 5):
            s |= attention_unit(f"encoder_att.{t}.{i}", 2 * f[i], f[i], f[i])
            s |= attention_unit(f"decoder_att.{t}.{i}", f[i] + f[i - 1], f[i - 1], f[i - 1])
    encoder_att_blocks = [(f[0], f[1]), (f[1], f[2]), (f[2], f[3]), (f[3], f[4]), (f[4], f[4])]
    decoder_att_blocks = [(f[0], f[0]), (f[1], f[0]), (f[2], f[1]), (f[3], f[2]), (f[4], f[4])]
    for i, (a, b) in enumerate(encoder_att_blocks):
        s |= conv_unit(f"encoder_block_att.{i}", a, b)
    for i, (a, b) in enumerate(decoder_att_blocks):
        s |= conv_unit(f"decoder_block_att.{i}", a, b)
    for t, channels in enumerate((classes, 1, 3), start=1):
        s |= {f"pred_task{t}.0.weight": [f[0], f[0], 3, 3], f"pred_task{t}.0.bias": [f[0]],
              f"pred_task{t}.1.weight": [channels, f[0], 1, 1], f"pred_task{t}.1.bias": [channels]}
    return s


def test_width_one_matches_the_mtan_nyuv2_state_dict():
    ours = {k: list(v.shape) for k, v in MTANSegNet(NYUv2.build_tasks(), 1.0).state_dict().items()}
    expected = expected_mtan_state()
    assert sorted(set(ours) - set(expected)) == [] and sorted(set(expected) - set(ours)) == []
    assert ours == expected


def test_an_mtan_checkpoint_loads_strictly():
    state = {k: torch.tensor(5) if not shape else torch.randn(shape)
             for k, shape in expected_mtan_state().items()}
    net = MTANSegNet(NYUv2.build_tasks(), 1.0)
    net.load_state_dict(state, strict=True)
    assert torch.equal(net.decoder_att[2][4][3].weight, state["decoder_att.2.4.3.weight"])


def test_forward_shapes_attention_matters_and_shared_parameters():
    torch.manual_seed(0)
    net = MTANSegNet(NYUv2.build_tasks(), 0.0625).train()  # batch statistics: real activations
    x = torch.rand(2, 3, 32, 64)
    with torch.no_grad():
        preds, feature = net(x)
    assert preds["semantic"].shape == (2, 13, 32, 64) and preds["normal"].shape == (2, 3, 32, 64)
    assert feature.shape == (2, 32, 1, 2)
    with torch.no_grad():
        net.encoder_att[1][2][4].bias.fill_(-30.0)  # depth's gate at stage 2 closes (σ(−30))
        after, _ = net(x)
    assert torch.equal(after["semantic"], preds["semantic"])  # other tasks' paths untouched
    assert not torch.allclose(after["depth"], preds["depth"])
    shared = {id(p) for p in net.shared_parameters()}
    assert id(net.encoder_block_att[0][0].weight) in shared
    assert id(net.encoder_att[0][0][0].weight) not in shared
    assert id(net.pred_task1[0].weight) not in shared and id(net.logsigma) not in shared
