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

Register one with :func:`register_weighting` in its own module of :mod:`bench.weightings`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import torch
from torch import nn

from bench.errors import BenchError, unknown_name
from bench.metadata import WeightingInfo
from bench.weightings.losses import TaskLosses

#: a weighting as a method receives it: a registered name, or ``{"name": ..., "options": {...}}``
WeightingSpec = str | Mapping[str, Any]
DEFAULT = "equal"


class Weighting(nn.Module):
    """Base class: combine the supervised task losses of a batch (see the module docstring)."""

    #: needs each task's gradient of the shared parameters (overrides :meth:`backward`)
    task_gradients: ClassVar[bool] = False
    #: constructor arguments the method fills in; every other argument is an option of the run
    ENGINE_ARGS: ClassVar[tuple[str, ...]] = ("num_tasks", "reduction", "task_names")

    def __init__(self, num_tasks: int, reduction: str = "official",
                 task_names: tuple[str, ...] = ()) -> None:
        super().__init__()
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


# -- registry -----------------------------------------------------------------------------------
_CLASS: dict[str, type[Weighting]] = {}
_INFO: dict[str, WeightingInfo] = {}
_FIXED: dict[str, dict[str, Any]] = {}


def register_weighting(name: str, info: WeightingInfo, **fixed: Any
                       ) -> Callable[[type[Weighting]], type[Weighting]]:
    """Class decorator: register ``cls`` as weighting ``name`` (``fixed``: options it pins)."""

    def wrap(cls: type[Weighting]) -> type[Weighting]:
        add_weighting(name, cls, info, **fixed)
        return cls

    return wrap


def add_weighting(name: str, cls: type[Weighting], info: WeightingInfo, **fixed: Any) -> None:
    """Register ``name`` as ``cls`` with pinned options (e.g. one torchjd aggregator)."""
    if name in _CLASS:
        raise ValueError(f"weighting {name!r} is registered twice")
    summary = info.summary or (cls.__doc__ or "").strip().splitlines()[0].rstrip(".")
    _CLASS[name] = cls
    _INFO[name] = WeightingInfo(**{**info.to_dict(), "name": name, "summary": summary})
    _FIXED[name] = dict(fixed)


def weighting_names() -> list[str]:
    """Registered weightings, equal first, then in display order.

    (Importing this module imports the package first, whose ``__init__`` registers them all.)
    """
    return sorted(_INFO, key=lambda n: (_INFO[n].order, n))


def _known(name: str) -> None:
    if name not in _INFO:
        raise unknown_name("weighting", name, _INFO)


def weighting_info(name: str) -> WeightingInfo:
    _known(name)
    return _INFO[name]


def weighting_class(name: str) -> type[Weighting]:
    _known(name)
    return _CLASS[name]


def weighting_fixed_options(name: str) -> dict[str, Any]:
    _known(name)
    return dict(_FIXED[name])


def weighting_defaults(name: str) -> dict[str, Any]:
    """Every option of weighting ``name`` with its default (pinned ones included)."""
    cls = weighting_class(name)
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    options = {p.name: p.default for p in inspect.signature(cls).parameters.values()
               if p.kind in kinds and p.name not in cls.ENGINE_ARGS}
    return {**options, **_FIXED[name]}


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
    name, options = parse_spec(spec)
    cls = weighting_class(name)
    unknown = set(options) - set(weighting_defaults(name))
    if unknown:
        raise BenchError(f"Unknown option(s) {sorted(unknown)} of weighting '{name}'.",
                         f"It takes: {', '.join(weighting_defaults(name)) or 'none'}.")
    return cls(num_tasks=num_tasks, reduction=reduction, task_names=tuple(task_names),
               **{**options, **_FIXED[name]})
