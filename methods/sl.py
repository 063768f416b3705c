"""Supervised learning on the available labels (Eq. 1 of the paper)."""

from __future__ import annotations

from bench.registry import METHODS
from methods.base import PartialLabelMethod


@METHODS.register_module(name="sl")
class SupervisedLearning(PartialLabelMethod):
    """SL: multi-task SegNet trained only on each image's labelled tasks (Eq. 1).

    :math:`\\min_{\\phi,\\psi} \\frac1N \\sum_n \\frac{1}{|\\mathcal T_n|}
    \\sum_{t \\in \\mathcal T_n} L^t(\\hat y^t(x_n), y^t_n)`, computed batched from the per-image,
    per-task loss matrix and the label mask. With the ``full`` regime this is the fully
    supervised multi-task baseline.
    """

    family = "sl"
    default_in_partial = True
    default_in_full = True
    display_order = 20
