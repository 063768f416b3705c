"""Dense prediction tasks: one class per task, owning everything about it (see :mod:`.base`)."""

from bench.tasks.base import MetricSpec, Task
from bench.tasks.depth import DepthTask
from bench.tasks.normal import NormalTask
from bench.tasks.semantic import SemanticTask

__all__ = ["DepthTask", "MetricSpec", "NormalTask", "SemanticTask", "Task"]
