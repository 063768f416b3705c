"""What a task weighting is, and the registry that builds one by name.

A weighting turns one batch's per-task supervised losses (:class:`~bench.weightings.losses.
TaskLosses`) into the update of the network. It is orthogonal to the method (LibMTL's split of
weighting from architecture): a method produces the supervised loss matrix and its own extra terms
(e.g. XTC's consistency term); the weighting decides how the *supervised* task losses are combined.
The method's extra terms keep the weights the method gives them (:math:`\\lambda_{ct}`, ...) and
are added unweighted: the weighting never rescales them.

Two kinds:

* **loss weightings** (equal, uncertainty, DWA) return the scalar
  :math:`\\sum_t w_t \\ell_t` (+ their own regulariser) from :meth:`Weighting.loss`; the step is
  one backward of that plus the method's terms;
* **gradient weightings** (GradNorm, the torchjd aggregators) set ``task_gradients`` and override
  :meth:`Weighting.backward`: they need each task's gradient of the shared parameters (one extra
  backward pass per task present in the batch).

A weighting's state (DWA's loss history, GradNorm's weights, Nash-MTL's warm start) lives in
buffers of the module; the method owns the module, so the state is in the method's
``state_dict`` and every checkpoint, and a resumed run continues exactly.

Register one with :func:`bench.registry.register_weighting` in its own module of
:mod:`bench.weightings`; its options are the fields of its ``Options`` dataclass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from bench.errors import BenchError
from bench.weightings.losses import TaskLosses

#: a weighting as a method receives it: a registered name, or ``{"name": ..., "options": {...}}``
WeightingSpec = str | Mapping[str, Any]
DEFAULT = "equal"


class Weighting(nn.Module):
    """Base class: combine the supervised task losses of a batch (see the module docstring)."""

    #: needs each task's gradient of the shared parameters (overrides :meth:`backward`)
    task_gradients: ClassVar[bool] = False

    @dataclass(frozen=True)
    class Options:
        """The weighting's options (in the run's identity); a subclass adds its own fields."""

    def __init__(self, num_tasks: int, reduction: str = "official",
                 task_names: tuple[str, ...] = (), **options: Any) -> None:
        """``num_tasks``, ``reduction`` and ``task_names`` come from the method; ``options``
        are the run's (:class:`Options`; an unknown one is a ``TypeError``)."""
        super().__init__()
        self.options = self.Options(**options)
        self.num_tasks = int(num_tasks)
        self.reduction = reduction
        self.task_names = tuple(task_names) or tuple(f"task{k}" for k in range(num_tasks))
        self._last_weights: torch.Tensor | None = None

    def begin_step(self, epoch: int | None) -> None:
        """Called before every training step with the 0-based epoch (None outside a runner)."""

    def loss(self, losses: TaskLosses, net: nn.Module) -> torch.Tensor:
        """The weighted supervised loss of the batch (a scalar with its graph)."""
        raise NotImplementedError

    def backward(self, losses: TaskLosses, total: torch.Tensor, extra: torch.Tensor | None,
                 net: nn.Module, params: list[nn.Parameter]) -> None:
        """Accumulate the step's gradients into ``.grad`` of ``params`` (default: one backward).

        ``total`` is :meth:`loss` plus the method's ``extra`` terms; gradient weightings build
        their own update from ``losses`` and ``extra`` instead.
        """
        total.backward()

    def remember(self, weights: torch.Tensor) -> None:
        """Keep this step's task weights ``[K]`` for the training log."""
        self._last_weights = weights.detach()

    def log_values(self) -> dict[str, torch.Tensor]:
        """``{"w_<task>": weight}`` of the last step (for the record's per-epoch history)."""
        if self._last_weights is None:
            return {}
        return {f"w_{name}": self._last_weights[k]
                for k, name in enumerate(self.task_names) if k < self._last_weights.numel()}


def parse_spec(spec: WeightingSpec | None) -> tuple[str, dict[str, Any]]:
    """``"dwa"`` or ``{"name": "dwa", "options": {...}}`` → (name, options)."""
    if spec is None:
        return DEFAULT, {}
    if isinstance(spec, str):
        return spec, {}
    if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
        raise BenchError(f"Bad weighting {spec!r}: give a name or {{'name': ..., 'options': ...}}.")
    return str(spec["name"]), dict(spec.get("options") or {})


def build_weighting(spec: WeightingSpec | None, num_tasks: int, reduction: str = "official",
                    task_names: tuple[str, ...] = ()) -> Weighting:
    """The weighting ``spec`` for ``num_tasks`` tasks under the protocol's loss reduction."""
    from bench.registry import WEIGHTINGS, entry

    name, options = parse_spec(spec)
    found = entry(WEIGHTINGS, name)
    unknown = set(options) - set(found.options())
    if unknown:
        raise BenchError(f"Unknown option(s) {sorted(unknown)} of weighting '{name}'.",
                         f"It takes: {', '.join(found.options()) or 'none'}.")
    return found(num_tasks=num_tasks, reduction=reduction, task_names=tuple(task_names),
                 **options)
