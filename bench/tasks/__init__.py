"""Dense prediction tasks: one class per task, owning everything about it (see :mod:`.base`).

The task registry (:data:`bench.registry.TASKS`) imports every module of the package on its first
lookup: a new task is one new module.
"""

from bench.tasks.base import MetricSpec, Task

__all__ = ["MetricSpec", "Task"]
