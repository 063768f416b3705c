"""Multi-task network of the PASCAL-Context protocol: dilated ResNet-18 + one DeepLab head per task.

Vandenhende et al.'s multi-task baseline (and the paper's PASCAL network): a shared dilated
ResNet-18 (:class:`~bench.nets.resnet.DilatedResNet18`, output stride 8) and per task a
DeepLab-v3 head, torchvision's ``ASPP`` (rates 12, 24, 36; 256 channels at width 1) followed by
a 3×3 conv, batch norm, ReLU and a 1×1 conv to the task's channels; each head's output is
upsampled bilinearly to the input size, then the task's activation applies. The network takes
images in [0, 1] and normalises them with the ImageNet mean and standard deviation itself.

``forward`` returns the predictions and the shared feature :math:`f_\\phi(x)` (the encoder output,
``[B, C, H/8, W/8]``), which the cross-task regulariser compares with the mapped outputs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.segmentation.deeplabv3 import ASPP, ASPPPooling

from bench.nets.resnet import IMAGENET_MEAN, IMAGENET_STD, DilatedResNet18, init_resnet
from bench.tasks import Task

ASPP_RATES = (12, 24, 36)
ASPP_CHANNELS = 256


class SingleSampleSafeBatchNorm2d(nn.BatchNorm2d):
    """Batch norm that uses its running statistics when a training batch holds one value per
    channel (ASPP's image-pooling branch on a batch of one image), where batch statistics are
    undefined; otherwise exactly ``nn.BatchNorm2d``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.shape[0] * x.shape[2] * x.shape[3] == 1:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                False, 0.0, self.eps)
        return super().forward(x)


def deeplab_head(in_channels: int, out_channels: int, width: float) -> nn.Sequential:
    """torchvision ``ASPP`` + 3×3 conv + BN + ReLU + 1×1 conv (the reference ``DeepLabHead``)."""
    mid = max(4, int(round(ASPP_CHANNELS * width)))
    aspp = ASPP(in_channels, ASPP_RATES, out_channels=mid)
    for m in aspp.modules():
        if isinstance(m, ASPPPooling):
            bn = m[2]
            safe = SingleSampleSafeBatchNorm2d(bn.num_features)
            safe.load_state_dict(bn.state_dict())
            m[2] = safe
    return nn.Sequential(aspp, nn.Conv2d(mid, mid, 3, padding=1, bias=False), nn.BatchNorm2d(mid),
                         nn.ReLU(), nn.Conv2d(mid, out_channels, 1))


class ResNetASPP(nn.Module):
    """Shared dilated ResNet-18 encoder + one DeepLab head per task."""

    def __init__(self, tasks: Sequence[Task], width: float = 1.0, in_channels: int = 3,
                 normalise_input: bool = True) -> None:
        super().__init__()
        self.tasks = list(tasks)
        self.encoder = DilatedResNet18(width, in_channels=in_channels)
        self.heads = nn.ModuleDict({t.name: deeplab_head(self.encoder.out_channels, t.channels,
                                                         width) for t in self.tasks})
        init_resnet(self.heads)
        self.logsigma = nn.Parameter(torch.full((len(self.tasks),), -0.5))
        self.normalise_input = normalise_input
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Predictions ``{task: [B, C_t, H, W]}`` and the shared feature ``[B, C, H/8, W/8]``."""
        size = x.shape[-2:]
        if self.normalise_input:
            x = (x - self.mean) / self.std
        feature = self.encoder(x)
        preds = {t.name: t.activate(F.interpolate(self.heads[t.name](feature), size=size,
                                                  mode="bilinear", align_corners=False))
                 for t in self.tasks}
        return preds, feature
