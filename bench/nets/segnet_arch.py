"""The ``segnet`` backbone (``model.arch``, the default): SegNet, the SegNet-encoder joint
mapping, one per-image-normalised SegNet per task pair (NYUv2, Cityscapes)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import nn

from bench.errors import BenchError
from bench.nets.arch import Architecture
from bench.nets.mapping import CrossTaskMapping
from bench.nets.norm import PerImageBatchNorm2d
from bench.nets.segnet import SegNet
from bench.registry import register_architecture
from bench.tasks import Task


@register_architecture("segnet")
class SegNetArchitecture(Architecture):
    """SegNet, its SegNet-encoder mapping and one per-image-normalised SegNet per pair."""

    @dataclass(frozen=True)
    class Options(Architecture.Options):
        #: encoder-decoder stages of every network of the run (``model.stages``; 5 in the
        #: paper): the main network, the joint mapping and the pair networks alike
        stages: int = 5

    description = "SegNet encoder-decoder (MTAN / MTPSL)"

    @property
    def segnet_stages(self) -> int:
        return int(self.options.stages)

    def network(self, tasks: Sequence[Task], width: float, pretrained: str | None = None
                ) -> nn.Module:
        if pretrained:
            raise BenchError("model.pretrained is set, but the SegNet backbone has no "
                             "pretrained weights.",
                             "Unset model.pretrained, or use model.arch=resnet18_aspp.")
        return SegNet(tasks, width=width, stages=self.options.stages)

    def joint_mapping(self, tasks: Sequence[Task], width: float, cond: bool
                      ) -> CrossTaskMapping:
        return CrossTaskMapping([t.channels for t in tasks], width=width, cond=cond,
                                stages=self.options.stages)

    def pair_network(self, source: Task, target: Task, width: float) -> nn.Module:
        return SegNet([target], width=width, in_channels=source.channels,
                      norm=PerImageBatchNorm2d, stages=self.options.stages)
