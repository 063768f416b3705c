"""The joint task-pair mapping for the ResNet backbone (the paper's PASCAL mapping).

"We modify the ResNet-18 to have task specific input layers (one convolutional layer for each
task) before the residual blocks": task ``k``'s encoded prediction or label enters its own
7×7/2 convolution + batch norm + ReLU (in place of the stem), then the shared 3×3/2 max-pool and
the four dilated residual stages of :class:`~bench.nets.resnet.DilatedResNet18`. After every
batch norm of the residual blocks a FiLM transform conditioned on the task pair applies
(:math:`h \\leftarrow \\gamma(A) \\odot h + \\beta(A)`, linear in the off-diagonal entries of A, as
:mod:`bench.nets.mapping`). The output, ``[R, C₄, H/8, W/8]``, has the shape of the encoder
feature :math:`f_\\phi(x)` the regulariser compares it with. Batch norms use per-row statistics
(:class:`~bench.nets.norm.PerImageBatchNorm2d`) so that mapping all rows at once equals mapping
them one at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from bench.nets.mapping import num_pairs
from bench.nets.norm import PerImageBatchNorm2d
from bench.nets.resnet import dilate, resnet_channels


class FiLMNorm(nn.Module):
    """Per-row batch norm followed by FiLM(γ(A), β(A)) (no FiLM when ``cond`` is off)."""

    def __init__(self, channels: int, pairs: int, cond: bool) -> None:
        super().__init__()
        self.bn = PerImageBatchNorm2d(channels)
        self.cond = cond
        if cond:
            self.gamma = nn.Parameter(torch.ones(channels, pairs))
            self.beta = nn.Parameter(torch.zeros(channels, pairs))

    def forward(self, x: torch.Tensor, a: torch.Tensor | None) -> torch.Tensor:
        x = self.bn(x)
        if self.cond:
            if a is None:
                raise ValueError("a conditional FiLM layer needs the task-pair vectors")
            x = x * (a @ self.gamma.t())[:, :, None, None] + (a @ self.beta.t())[:, :, None, None]
        return x


class FiLMBasicBlock(nn.Module):
    """torchvision's ``BasicBlock`` with :class:`FiLMNorm` after each batch norm."""

    def __init__(self, inplanes: int, planes: int, stride: int, pairs: int, cond: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = FiLMNorm(planes, pairs, cond)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = FiLMNorm(planes, pairs, cond)
        self.relu = nn.ReLU(inplace=True)
        self.down_conv = (nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False)
                          if stride != 1 or inplanes != planes else None)
        self.down_bn = FiLMNorm(planes, pairs, cond) if self.down_conv is not None else None

    def forward(self, x: torch.Tensor, a: torch.Tensor | None) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x), a))
        out = self.bn2(self.conv2(out), a)
        identity = x if self.down_conv is None else self.down_bn(self.down_conv(x), a)
        return self.relu(out + identity)


class FiLMStage(nn.Module):
    """Two FiLM basic blocks (a ResNet-18 stage)."""

    def __init__(self, inplanes: int, planes: int, stride: int, pairs: int, cond: bool) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([FiLMBasicBlock(inplanes, planes, stride, pairs, cond),
                                     FiLMBasicBlock(planes, planes, 1, pairs, cond)])

    def forward(self, x: torch.Tensor, a: torch.Tensor | None) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, a)
        return x


class ResNetMappingEncoder(nn.Module):
    """Task input convolutions + max-pool + four FiLM-conditioned dilated ResNet-18 stages."""

    def __init__(self, input_channels: Sequence[int], width: float, cond: bool) -> None:
        super().__init__()
        c = resnet_channels(width)
        self.out_channels = c[-1]
        pairs = num_pairs(len(input_channels))
        self.pred_encoder_source = nn.ModuleList([
            nn.Sequential(nn.Conv2d(ch, c[0], kernel_size=7, stride=2, padding=3, bias=False),
                          PerImageBatchNorm2d(c[0]), nn.ReLU(inplace=True))
            for ch in input_channels])
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layers = nn.ModuleList([FiLMStage(c[0], c[0], 1, pairs, cond),
                                     FiLMStage(c[0], c[1], 2, pairs, cond),
                                     FiLMStage(c[1], c[2], 2, pairs, cond),
                                     FiLMStage(c[2], c[3], 2, pairs, cond)])
        dilate(self.layers[2], 2)
        dilate(self.layers[3], 4)

    def stages(self) -> list[nn.Module]:
        """The modules whose outputs :meth:`CrossTaskMapping.stage_outputs` returns."""
        return list(self.layers)

    def forward(self, x: torch.Tensor, a: torch.Tensor | None) -> torch.Tensor:
        x = self.maxpool(x)
        for layer in self.layers:
            x = layer(x, a)
        return x
