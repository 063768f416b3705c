"""Backbone architectures by name (``model.arch`` of a profile): the multi-task network, the
joint task-pair mapping and the per-pair mapping network that belong to each.

``segnet`` (default; NYUv2, Cityscapes; :mod:`bench.nets.segnet_arch`):
:class:`~bench.nets.segnet.SegNet`, the SegNet-encoder mapping of :mod:`bench.nets.mapping`, one
SegNet per task pair. ``resnet18_aspp`` (PASCAL-Context; :mod:`bench.nets.resnet_aspp_arch`):
:class:`~bench.nets.resnet_aspp.ResNetASPP`, the ResNet-18 mapping of
:mod:`bench.nets.resnet_mapping`, one ResNet-ASPP per task pair. A method asks its
:class:`Architecture` for all three, so the cross-task mappings always match the backbone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from torch import nn

from bench.tasks import Task

if TYPE_CHECKING:
    from bench.nets.mapping import CrossTaskMapping

DEFAULT_ARCH = "segnet"


class Architecture:
    """How to build the networks of one backbone (one subclass per backbone, registered with
    :func:`bench.registry.register_architecture`); its options are ``model.*`` keys."""

    description: str = ""

    @dataclass(frozen=True)
    class Options:
        """The backbone's options (none by default; SegNet's ``stages``)."""

    def __init__(self, **options: object) -> None:
        self.options = self.Options(**options)

    @property
    def segnet_stages(self) -> int:
        """Encoder-decoder stages of the SegNet-style networks a method builds for itself
        (JTR's joint network): the backbone's own where it is a SegNet (``model.stages``),
        else the paper's 5."""
        return 5

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


def get_architecture(name: str | None, **options: object) -> Architecture:
    """The architecture called ``name`` (``None``: the default SegNet) with ``options`` (the
    backbone's ``model.*`` keys); a clear error if either is unknown."""
    from bench.errors import BenchError
    from bench.registry import ARCHITECTURES, entry

    found = entry(ARCHITECTURES, name or DEFAULT_ARCH, "architecture (model.arch)")
    unknown = sorted(set(options) - set(found.options()))
    if unknown:
        takes = ", ".join(f"model.{k}" for k in found.options()) or "none"
        raise BenchError(f"model.{unknown[0]} is no option of the {found.name} backbone.",
                         f"Its options: {takes}.")
    return found(**options)
