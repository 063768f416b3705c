"""The ResNet-18 + ASPP backbone, its ImageNet weights from a local file, and its mappings."""

from __future__ import annotations

import pytest
import torch
import torchvision

from bench.data.nyuv2 import NYUv2
from bench.data.pascal_context import PascalContext
from bench.engine.build import build_method
from bench.errors import BenchError
from bench.nets.arch import get_architecture
from bench.nets.mapping import pair_index
from bench.nets.resnet import DilatedResNet18, load_imagenet_weights
from bench.nets.segnet import SegNet

TASKS = PascalContext.build_tasks()


def config(method: str = "sl", **model) -> dict:
    return {"method": {"name": method, "options": {}}, "model": {"width": 0.0625, **model},
            "train": {"loss_reduction": "official"},
            "dataset": {"name": "pascal_context", "size": [64, 64]}}


def test_full_width_encoder_has_torchvision_resnet18_parameters_and_stride_8():
    ours = {k: tuple(v.shape) for k, v in DilatedResNet18(1.0).state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in torchvision.models.resnet18().state_dict().items()
              if not k.startswith("fc.")}
    assert ours == theirs
    assert DilatedResNet18(0.125)(torch.rand(2, 3, 64, 96)).shape == (2, 64, 8, 12)


def test_imagenet_weights_load_from_a_local_file(tmp_path):
    reference = torchvision.models.resnet18()
    path = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), path)
    method = build_method({**config(), "model": {"width": 1.0, "arch": "resnet18_aspp",
                                                 "pretrained": str(path)}}, TASKS[:1])
    got = method.net.encoder.state_dict()
    for key, value in reference.state_dict().items():
        if not key.startswith("fc."):
            torch.testing.assert_close(got[key], value)


def test_bad_pretrained_weights_are_clear_errors(tmp_path):
    with pytest.raises(BenchError, match="full-width"):
        load_imagenet_weights(DilatedResNet18(0.25), tmp_path / "x.pth")
    with pytest.raises(BenchError, match="not found"):
        load_imagenet_weights(DilatedResNet18(1.0), tmp_path / "x.pth")
    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(BenchError, match="not a torchvision ResNet-18"):
        load_imagenet_weights(DilatedResNet18(1.0), tmp_path / "bad.pth")
    with pytest.raises(BenchError, match="SegNet backbone has no pretrained"):
        build_method(config(pretrained=str(tmp_path / "bad.pth")), NYUv2.build_tasks())
    with pytest.raises(BenchError, match="Unknown architecture"):
        build_method(config(arch="vgg"), TASKS)


def test_arch_is_a_config_choice_and_segnet_stays_the_default():
    assert isinstance(build_method(config(), NYUv2.build_tasks()).net, SegNet)
    method = build_method(config("xtc", arch="resnet18_aspp"), TASKS)
    preds, feature = method.net(torch.rand(2, 3, 32, 32))
    assert {k: tuple(v.shape) for k, v in preds.items()} == {
        "semseg": (2, 21, 32, 32), "human_parts": (2, 7, 32, 32), "normals": (2, 3, 32, 32),
        "saliency": (2, 1, 32, 32), "edge": (2, 1, 32, 32)}
    assert torch.allclose(preds["normals"].norm(dim=1), torch.ones(1))
    # the joint mapping of this backbone outputs the shape of the feature it is compared with
    k = len(TASKS)
    inputs = [None] * k
    inputs[2] = torch.rand(3, 3, 32, 32)
    mapped = method.mapping(inputs, torch.full((3,), 2), pair_index(torch.full((3,), 2),
                                                                     torch.tensor([0, 1, 4]), k))
    assert mapped.shape == (3, *feature.shape[1:])


def test_resnet_mapping_of_a_batch_equals_one_row_at_a_time():
    torch.manual_seed(0)
    mapping = get_architecture("resnet18_aspp").joint_mapping(TASKS, 0.0625, cond=True).train()
    for p in mapping.film_parameters():
        torch.nn.init.normal_(p)
    k = len(TASKS)
    task = torch.tensor([0, 3, 0, 4])
    pair = pair_index(task, torch.tensor([1, 2, 4, 0]), k)
    x = {t: torch.rand(int((task == t).sum()), TASKS[t].channels, 16, 16) for t in (0, 3, 4)}
    batched = mapping([x.get(t) for t in range(k)], task, pair)
    # float32 sums in another order (batch of 4 vs 1): agreement to 1e-5 of the output's scale
    atol = 1e-5 * float(batched.detach().abs().max())
    seen = {t: 0 for t in x}
    for r in range(4):
        t = int(task[r])
        row = [None] * k
        row[t] = x[t][seen[t]:seen[t] + 1]
        seen[t] += 1
        torch.testing.assert_close(mapping(row, task[r:r + 1], pair[r:r + 1])[0], batched[r],
                                   atol=atol, rtol=1e-4)
