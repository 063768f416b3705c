"""Supervised learning on the available labels (Eq. 1 of the paper)."""

from __future__ import annotations

from bench.metadata import MethodInfo
from bench.method.base import LR_SPACE, PartialLabelMethod
from bench.registry import register_method


@register_method("sl", MethodInfo(
    summary="SL: multi-task SegNet trained only on each image's labelled tasks (Eq. 1)",
    display="Supervised Learning", short="SL", paper_name="SL", paper_aliases=("MTL",), family="sl",
    colour="#0072B2", order=20, in_partial=True, in_full=True, search_space=LR_SPACE))
class SupervisedLearning(PartialLabelMethod):
    """SL: multi-task SegNet trained only on each image's labelled tasks (Eq. 1).

    :math:`\\min_{\\phi,\\psi} \\frac1N \\sum_n \\frac{1}{|\\mathcal T_n|}
    \\sum_{t \\in \\mathcal T_n} L^t(\\hat y^t(x_n), y^t_n)`, computed batched from the per-image,
    per-task loss matrix and the label mask. With the ``full`` regime this is the fully
    supervised multi-task baseline.
    """
