"""Dilated ResNet-18 encoder built from torchvision's ``BasicBlock``, with a width multiplier.

The encoder is torchvision's ResNet-18 without pooling and classifier (stem 7×7/2 conv, 3×3/2
max-pool, four stages of two basic blocks, 64-128-256-512 channels at width 1), made dilated as
in Vandenhende et al.'s ``ResnetDilated`` (output stride 8): in stages 3 and 4 the strided
convolutions get stride 1, the first 3×3 convolution of stage 3 keeps dilation 1 and the others
get dilation 2; in stage 4 the first gets dilation 2 and the others 4. At ``width=1`` the
parameter names and shapes are those of ``torchvision.models.resnet18`` (less ``fc``), so its
ImageNet weights load from a local file (:func:`load_imagenet_weights`); a smaller width scales
every stage's channels for CPU-sized runs (then only random initialisation is possible).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, conv1x1

from bench.errors import BenchError

BASE_CHANNELS = (64, 128, 256, 512)
#: ImageNet mean / std of torchvision's weights (the network normalises its [0, 1] input)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def resnet_channels(width: float) -> list[int]:
    """Channels of the four stages at a width multiplier (at least 4 each)."""
    if width <= 0:
        raise ValueError(f"width must be positive, got {width}")
    return [max(4, int(round(c * width))) for c in BASE_CHANNELS]


def make_stage(inplanes: int, planes: int, stride: int,
               norm: Callable[[int], nn.Module] = nn.BatchNorm2d) -> nn.Sequential:
    """Two torchvision basic blocks (torchvision's ``_make_layer`` for ResNet-18)."""
    down = None
    if stride != 1 or inplanes != planes:
        down = nn.Sequential(conv1x1(inplanes, planes, stride), norm(planes))
    return nn.Sequential(BasicBlock(inplanes, planes, stride, down, norm_layer=norm),
                         BasicBlock(planes, planes, norm_layer=norm))


def dilate(stage: nn.Module, dilation: int) -> None:
    """Replace strides by dilation in ``stage`` (Vandenhende et al.'s ``_nostride_dilate``)."""

    def apply(m: nn.Module) -> None:
        if not isinstance(m, nn.Conv2d):
            return
        if m.stride == (2, 2):
            m.stride = (1, 1)
            if m.kernel_size == (3, 3):
                m.dilation = (dilation // 2, dilation // 2)
                m.padding = (dilation // 2, dilation // 2)
        elif m.kernel_size == (3, 3):
            m.dilation = (dilation, dilation)
            m.padding = (dilation, dilation)

    stage.apply(apply)


def init_resnet(module: nn.Module) -> None:
    """torchvision's ResNet initialisation: He-normal (fan-out) convs, batch norm (1, 0)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class DilatedResNet18(nn.Module):
    """ResNet-18 trunk with output stride 8: ``[B, 3, H, W]`` → ``[B, C₄, H/8, W/8]``."""

    def __init__(self, width: float = 1.0, in_channels: int = 3,
                 norm: Callable[[int], nn.Module] = nn.BatchNorm2d) -> None:
        super().__init__()
        c = resnet_channels(width)
        self.channels = c
        self.out_channels = c[-1]
        self.conv1 = nn.Conv2d(in_channels, c[0], kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm(c[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = make_stage(c[0], c[0], 1, norm)
        self.layer2 = make_stage(c[0], c[1], 2, norm)
        self.layer3 = make_stage(c[1], c[2], 2, norm)
        self.layer4 = make_stage(c[2], c[3], 2, norm)
        dilate(self.layer3, 2)
        dilate(self.layer4, 4)
        init_resnet(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


def load_imagenet_weights(encoder: DilatedResNet18, path: str | Path) -> str:
    """Load torchvision ResNet-18 ImageNet weights from a local file into ``encoder``.

    Accepts a plain state dict (``resnet18-f37072fd.pth``) or one under ``state_dict`` /
    ``model``, with or without a ``module.`` prefix; ``fc.*`` is ignored. Returns the file's
    SHA-256. Every problem is a :class:`BenchError` saying what to give instead.
    """
    import hashlib

    path = Path(path).expanduser()
    hint = ("Give the torchvision ResNet-18 ImageNet state dict (e.g. resnet18-f37072fd.pth) "
            "with --set model.pretrained=PATH, or leave model.pretrained unset for a randomly "
            "initialised encoder.")
    if encoder.channels != list(BASE_CHANNELS):
        raise BenchError(f"ImageNet weights need the full-width ResNet-18 (model.width = 1), "
                         f"but this encoder has channels {encoder.channels}.", hint)
    if not path.is_file():
        raise BenchError(f"Pretrained weights not found: {path}", hint)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
        raise BenchError(f"Cannot read pretrained weights {path}: {type(exc).__name__}: {exc}",
                         hint) from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise BenchError(f"{path} holds no state dict.", hint)
    state = {k.removeprefix("module."): v for k, v in state.items()
             if not k.removeprefix("module.").startswith("fc.")}
    own = encoder.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    if missing or unexpected or wrong:
        detail = "; ".join(f"{what}: {', '.join(keys[:3])}{' …' if len(keys) > 3 else ''}"
                           for what, keys in (("missing", missing), ("unexpected", unexpected),
                                              ("wrong shape", wrong)) if keys)
        raise BenchError(f"{path} is not a torchvision ResNet-18 state dict ({detail}).", hint)
    encoder.load_state_dict(state, strict=True)
    return hashlib.sha256(path.read_bytes()).hexdigest()


__all__ = ["DilatedResNet18", "load_imagenet_weights", "resnet_channels"]
