"""The ``resnet18_aspp`` backbone (``model.arch``; PASCAL-Context): dilated ResNet-18 + ASPP heads,
the ResNet-18 joint mapping, one ResNet-ASPP per task pair."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torch import nn

from bench.nets.arch import Architecture
from bench.nets.mapping import CrossTaskMapping
from bench.nets.resnet import load_imagenet_weights
from bench.nets.resnet_aspp import ResNetASPP
from bench.nets.resnet_mapping import ResNetMappingEncoder
from bench.registry import register_architecture
from bench.tasks import Task


@register_architecture("resnet18_aspp")
class ResNetASPPArchitecture(Architecture):
    """Dilated ResNet-18 + ASPP heads, the ResNet mapping, one ResNet-ASPP per pair.

    The per-pair networks normalise with the statistics of their rows (plain batch norm), unlike
    the SegNet ones: ASPP's image-pooling branch has no per-image statistics.
    """

    description = "dilated ResNet-18 + DeepLab ASPP heads (Vandenhende et al.)"

    def network(self, tasks: Sequence[Task], width: float, pretrained: str | None = None
                ) -> nn.Module:
        net = ResNetASPP(tasks, width=width)
        if pretrained:
            load_imagenet_weights(net.encoder, Path(pretrained))
        return net

    def joint_mapping(self, tasks: Sequence[Task], width: float, cond: bool
                      ) -> CrossTaskMapping:
        channels = [t.channels for t in tasks]
        return CrossTaskMapping(channels, width=width, cond=cond,
                                encoder=ResNetMappingEncoder(channels, width, cond))

    def pair_network(self, source: Task, target: Task, width: float) -> nn.Module:
        return ResNetASPP([target], width=width, in_channels=source.channels,
                          normalise_input=False)
