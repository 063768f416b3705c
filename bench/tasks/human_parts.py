"""Human parts: 7-class segmentation of people, evaluated only on images that contain people."""

from __future__ import annotations

from typing import Any

from bench.registry import register_task
from bench.tasks.semantic import SemanticTask

#: PASCAL-Part body parts grouped as in Vandenhende et al. (6 parts + background)
PART_NAMES = ("background", "head", "torso", "upper arm", "lower arm", "upper leg", "lower leg")


@register_task("human_parts")
class HumanPartsTask(SemanticTask):
    """Human-part segmentation: cross-entropy, labels −1 ignored; mIoU over images with people.

    An image without a (part-annotated) person has every pixel ignored (−1), as in the reference
    (``AddIgnoreRegions``): it contributes neither loss nor metric. Loss weight 2.
    """

    title = "Human Parts"
    abbrev = "H. Parts"

    def __init__(self, name: str = "human_parts", loss_weight: float = 2.0) -> None:
        super().__init__(len(PART_NAMES), name=name, loss_weight=loss_weight)

    def build_metric(self) -> Any:
        from bench.metrics.parts import HumanPartsMetric

        return HumanPartsMetric(self.name, self.num_classes)
