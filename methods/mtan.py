"""MTAN: SL on the SegNet with task-specific attention (Liu et al. 2019), an architecture."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from bench.errors import BenchError
from bench.metadata import MethodInfo
from bench.nets.mtan import MTANSegNet
from bench.registry import register_method
from bench.tasks import Task
from methods.sl import SupervisedLearning


@register_method("mtan", MethodInfo(
    summary="MTAN: SL on the SegNet with task-specific soft attention (Liu et al. 2019; Table 5)",
    display="MTAN", short="MTAN", paper_name="MTAN", family="mtan", colour="#117733", order=22,
    in_all=False, in_partial=True, in_full=True))
class MultiTaskAttention(SupervisedLearning):
    """MTAN (Liu et al. 2019): Eq. 1 on :class:`~bench.nets.mtan.MTANSegNet`.

    The loss is SL's (every labelled task, through the run's weighting); only the network
    differs: one attention network per task selects features from the shared SegNet
    (``state_dict`` key-compatible with lorenmt/mtan's NYUv2 ``model_segnet_mtan.py``). MTAN is
    an architecture, so it combines with every weighting (the MTAN paper's DWA is
    ``--methods mtan --weighting dwa``); Table 5 uses equal weights.
    """

    def __init__(self, tasks: Sequence[Task], **kwargs: Any) -> None:
        if kwargs.get("stages") not in (None, 5):
            raise BenchError("MTAN's attention network has the SegNet's five stages; "
                             f"model.stages={kwargs['stages']} does not apply to it.",
                             "Run MTAN with model.stages=5.")
        super().__init__(tasks, **kwargs)

    def build_network(self, width: float) -> nn.Module:
        return MTANSegNet(self.tasks, width=width)
