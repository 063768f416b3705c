"""Backbone architectures by name (``model.arch`` of a profile): the multi-task network, the
joint task-pair mapping and the per-pair mapping network that belong to each.

``segnet`` (default; NYUv2, Cityscapes): :class:`~bench.nets.segnet.SegNet`, the SegNet-encoder
mapping of :mod:`bench.nets.mapping`, one SegNet per task pair. ``resnet18_aspp`` (PASCAL-Context):
:class:`~bench.nets.resnet_aspp.ResNetASPP`, the ResNet-18 mapping of
:mod:`bench.nets.resnet_mapping`, one ResNet-ASPP per task pair. A method asks its
:class:`Architecture` for all three, so the cross-task mappings always match the backbone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torch import nn

from bench.errors import BenchError, unknown_name
from bench.nets.mapping import CrossTaskMapping
from bench.nets.norm import PerImageBatchNorm2d
from bench.nets.resnet import load_imagenet_weights
from bench.nets.resnet_aspp import ResNetASPP
from bench.nets.resnet_mapping import ResNetMappingEncoder
from bench.nets.segnet import SegNet
from bench.tasks import Task

DEFAULT_ARCH = "segnet"


class Architecture:
    """How to build the networks of one backbone (one subclass per backbone)."""

    name: str = ""
    description: str = ""

    def network(self, tasks: Sequence[Task], width: float, pretrained: str | None = None
                ) -> nn.Module:
        """The multi-task network: ``forward(image) → (predictions, shared feature)``."""
        raise NotImplementedError

    def joint_mapping(self, tasks: Sequence[Task], width: float, cond: bool
                      ) -> CrossTaskMapping:
        """The conditional joint task-pair mapping whose output matches the shared feature."""
        raise NotImplementedError

    def pair_network(self, source: Task, target: Task, width: float) -> nn.Module:
        """A whole network mapping task ``source``'s prediction to task ``target`` (one head)."""
        raise NotImplementedError


class SegNetArchitecture(Architecture):
    """SegNet, its SegNet-encoder mapping and one per-image-normalised SegNet per pair."""

    name = "segnet"
    description = "SegNet encoder-decoder (MTAN / MTPSL)"

    def network(self, tasks: Sequence[Task], width: float, pretrained: str | None = None
                ) -> nn.Module:
        if pretrained:
            raise BenchError("model.pretrained is set, but the SegNet backbone has no "
                             "pretrained weights.",
                             "Unset model.pretrained, or use model.arch=resnet18_aspp.")
        return SegNet(tasks, width=width)

    def joint_mapping(self, tasks: Sequence[Task], width: float, cond: bool
                      ) -> CrossTaskMapping:
        return CrossTaskMapping([t.channels for t in tasks], width=width, cond=cond)

    def pair_network(self, source: Task, target: Task, width: float) -> nn.Module:
        return SegNet([target], width=width, in_channels=source.channels,
                      norm=PerImageBatchNorm2d)


class ResNetASPPArchitecture(Architecture):
    """Dilated ResNet-18 + ASPP heads, the ResNet mapping, one ResNet-ASPP per pair.

    The per-pair networks normalise with the statistics of their rows (plain batch norm), unlike
    the SegNet ones: ASPP's image-pooling branch has no per-image statistics.
    """

    name = "resnet18_aspp"
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


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a for a in (SegNetArchitecture(), ResNetASPPArchitecture())}


def get_architecture(name: str | None) -> Architecture:
    """The architecture called ``name`` (``None``: the default SegNet); a clear error if unknown."""
    name = name or DEFAULT_ARCH
    if name not in ARCHITECTURES:
        raise unknown_name("architecture (model.arch)", name, ARCHITECTURES)
    return ARCHITECTURES[name]
