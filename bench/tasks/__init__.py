"""Dense prediction tasks: one class per task, owning everything about it (see :mod:`.base`)."""

from bench.tasks.base import MetricSpec, Task
from bench.tasks.binary import BinaryTask
from bench.tasks.depth import DepthTask
from bench.tasks.edge import EdgeTask
from bench.tasks.human_parts import HumanPartsTask
from bench.tasks.normal import NormalTask
from bench.tasks.normal_l1 import NormalL1Task
from bench.tasks.saliency import SaliencyTask
from bench.tasks.semantic import SemanticTask

__all__ = ["BinaryTask", "DepthTask", "EdgeTask", "HumanPartsTask", "MetricSpec", "NormalL1Task",
           "NormalTask", "SaliencyTask", "SemanticTask", "Task"]
