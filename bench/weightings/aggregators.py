"""Gradient aggregators of the ``torchjd`` library on the shared parameters' per-task gradients.

One class, :class:`JacobianAggregation`, registered once per aggregator (MGDA, PCGrad, CAGrad,
Nash-MTL, IMTL-G, Aligned-MTL, UPGrad); torchjd is imported only when one is built.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from bench.errors import BenchError
from bench.metadata import WeightingInfo
from bench.registry import WEIGHTINGS, register_variant
from bench.weightings.base import Weighting
from bench.weightings.losses import TaskLosses
from bench.weightings.shared import add_flat_gradient, shared_parameters, task_jacobian

#: registered name → (torchjd class, its paper, its citation, order, colour)
AGGREGATORS: dict[str, tuple[str, str, str, int, str]] = {
    "mgda": ("MGDA", "MGDA", "multiple-gradient descent, the min-norm point of the convex hull of "
             "the task gradients (Sener & Koltun 2018)", 40, "#E69F00"),
    "pcgrad": ("PCGrad", "PCGrad", "projects each task gradient off the others it conflicts with "
               "(Yu et al. 2020)", 50, "#56B4E9"),
    "cagrad": ("CAGrad", "CAGrad", "conflict-averse gradient descent, c = 0.4 (Liu et al. 2021)",
               60, "#F0E442"),
    "nash-mtl": ("NashMTL", "Nash-MTL", "the Nash bargaining solution of the task gradients "
                 "(Navon et al. 2022)", 70, "#D55E00"),
    "imtl-g": ("IMTLG", "IMTL-G", "impartial MTL: equal projections of the update on every task "
               "gradient (Liu et al. 2021)", 80, "#999999"),
    "aligned-mtl": ("AlignedMTL", "Aligned-MTL", "aligns the principal components of the task "
                    "gradients (Senushkin et al. 2023)", 90, "#882255"),
    "upgrad": ("UPGrad", "UPGrad", "projects the update onto the dual cone of the task gradients "
               "(Quinton & Rey 2024)", 100, "#44AA99"),
}
#: Aligned-MTL's ways of scaling the balance transformation (torchjd)
SCALE_MODES = ("min", "median", "rmse")


class JacobianAggregation(Weighting):
    """A torchjd aggregator :math:`\\mathcal A` on the shared parameters' Jacobian.

    For the tasks :math:`P` present in the batch,
    :math:`J = [\\nabla_\\theta \\ell_t]_{t \\in P} \\in \\mathbb{R}^{|P| \\times n}` (one backward
    per task, :math:`\\theta` the shared parameters). The update of the step is

    .. math::
        g_\\theta = \\mathcal A(J) + \\nabla_\\theta \\mathcal L_{\\text{method}}, \\qquad
        g_\\psi = \\nabla_\\psi \\Big(\\sum_{t \\in P} \\ell_t + \\mathcal L_{\\text{method}}\\Big)

    for the shared :math:`\\theta` and every other parameter :math:`\\psi` (task heads, MTAN's
    attention, mappings), as ``torchjd.mtl_backward`` treats task-specific parameters. The method's
    own terms :math:`\\mathcal L_{\\text{method}}` (e.g. XTC's consistency) are not aggregated.
    :math:`\\mathcal A` keeps torchjd's scale (e.g. UPGrad and Aligned-MTL average, MGDA returns
    the min-norm point). A task with no label in the batch has no row. Nash-MTL is stateful (a
    warm start per set of present tasks): that state is a buffer, saved in checkpoints; with a
    single task present its solution is closed-form, :math:`g/\\|g\\|`.
    """

    task_gradients = True

    @dataclass(frozen=True)
    class Options(Weighting.Options):
        #: which torchjd aggregator (each registered name fixes its own)
        aggregator: str = "upgrad"

    def __init__(self, num_tasks: int, reduction: str = "official",
                 task_names: tuple[str, ...] = (), **options: Any) -> None:
        super().__init__(num_tasks, reduction, task_names, **options)
        aggregator = self.options.aggregator
        if aggregator not in AGGREGATORS:
            raise BenchError(f"Unknown torchjd aggregator '{aggregator}'.")
        self.aggregator_name = aggregator
        #: the torchjd class's own arguments (every option but the aggregator's name)
        self.torchjd_options = {k: v for k, v in asdict(self.options).items()
                                if k != "aggregator"}
        self._aggregators: dict[tuple[int, ...], Any] = {}
        scale_mode = self.torchjd_options.get("scale_mode", "min")
        if aggregator == "aligned-mtl" and scale_mode not in SCALE_MODES:
            raise ValueError(f"Aligned-MTL scale_mode must be one of {SCALE_MODES}, "
                             f"got {scale_mode!r}")
        self._make(tuple(range(num_tasks)))  # torchjd checks the options now, not mid-run
        if aggregator == "nash-mtl":
            # the warm start of each subset of present tasks (row = bit mask of the subset)
            self.register_buffer("nash_alpha", torch.zeros(2 ** num_tasks, num_tasks))
            self.register_buffer("nash_seen", torch.zeros(2 ** num_tasks, dtype=torch.bool))

    def _make(self, tasks: tuple[int, ...]) -> Any:
        try:
            import torchjd.aggregation as agg
        except ImportError:
            raise BenchError("The gradient aggregators need torchjd.",
                             'Install it: pip install "torchjd[quadprog-projector,nash-mtl,'
                             'cagrad]"') from None
        cls = getattr(agg, AGGREGATORS[self.aggregator_name][0])
        options = dict(self.torchjd_options)
        if self.aggregator_name == "nash-mtl":
            options["n_tasks"] = len(tasks)
        return cls(**options)

    def aggregator_for(self, tasks: tuple[int, ...]) -> Any:
        """The torchjd aggregator of this set of present tasks (Nash-MTL keeps one per set)."""
        key = tasks if self.aggregator_name == "nash-mtl" else ()
        if key not in self._aggregators:
            self._aggregators[key] = self._make(tasks)
            if self.aggregator_name == "nash-mtl" and bool(self.nash_seen[_bits(tasks)]):
                alpha = self.nash_alpha[_bits(tasks), list(tasks)]
                self._aggregators[key].weighting.prvs_alpha = alpha.cpu().numpy().astype("float32")
        return self._aggregators[key]

    def aggregate(self, jacobian: torch.Tensor, tasks: tuple[int, ...]) -> torch.Tensor:
        """:math:`\\mathcal A(J)` ``[n]`` for the rows of ``tasks`` (in that order)."""
        if self.aggregator_name == "nash-mtl" and len(tasks) == 1:
            # one player: the bargaining condition α²‖g‖² = 1 gives α = 1/‖g‖ (‖αg‖ = 1 is
            # within max_norm); torchjd's solver does not take a single row
            norm = jacobian[0].norm()
            return jacobian[0] / norm if float(norm) > 0 else jacobian[0]
        aggregator = self.aggregator_for(tasks)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # cvxpy's DPP notice on every Nash-MTL solve
            out = aggregator(jacobian)
        if self.aggregator_name == "nash-mtl":
            alpha = torch.as_tensor(aggregator.weighting.prvs_alpha, dtype=self.nash_alpha.dtype)
            self.nash_alpha[_bits(tasks), list(tasks)] = alpha.to(self.nash_alpha.device)
            self.nash_seen[_bits(tasks)] = True
        return out

    def loss(self, losses: TaskLosses, net: nn.Module) -> torch.Tensor:
        # what the log shows as the supervised loss; the update is built in backward()
        return losses.unweighted()

    def backward(self, losses: TaskLosses, total: torch.Tensor, extra: torch.Tensor | None,
                 net: nn.Module, params: list[nn.Parameter]) -> None:
        tasks = tuple(losses.present_indices())
        if not tasks:
            total.backward()
            return
        shared = shared_parameters(net, self.aggregator_name)
        per_task = losses.per_task()
        rows = [per_task[k] for k in tasks]
        jacobian = task_jacobian(rows, shared)  # one backward per task, the graph kept
        update = self.aggregate(jacobian, tasks)
        self._remember_weights(jacobian, update, tasks)
        shared_ids = {id(p) for p in shared}
        others = [p for p in params if id(p) not in shared_ids]
        if extra is not None and extra.requires_grad:  # the method's terms, unaggregated, once
            extra.backward(inputs=list(params), retain_graph=bool(others))
        supervised = torch.stack(rows).sum()
        if others and supervised.requires_grad:  # heads and other task-specific parameters
            supervised.backward(inputs=others)
        add_flat_gradient(shared, update)

    def _remember_weights(self, jacobian: torch.Tensor, update: torch.Tensor,
                          tasks: tuple[int, ...]) -> None:
        """The effective weight of each task, for the log: the least-squares :math:`w` of
        :math:`J^\\top w = g`, :math:`w = (JJ^\\top)^+ J g` (every aggregator here returns such a
        combination of the rows)."""
        with torch.no_grad():
            gramian = (jacobian @ jacobian.T).double()
            w = torch.linalg.pinv(gramian) @ (jacobian @ update).double()
            weights = torch.zeros(self.num_tasks, dtype=torch.float64)
            weights[list(tasks)] = w.cpu()
        self.remember(weights.float())


def _bits(tasks: tuple[int, ...]) -> int:
    return sum(1 << k for k in tasks)


class CAGradAggregation(JacobianAggregation):
    __doc__ = JacobianAggregation.__doc__

    @dataclass(frozen=True)
    class Options(JacobianAggregation.Options):
        c: float = 0.4


class NashMTLAggregation(JacobianAggregation):
    __doc__ = JacobianAggregation.__doc__

    @dataclass(frozen=True)
    class Options(JacobianAggregation.Options):
        max_norm: float = 1.0
        optim_niter: int = 20


class AlignedMTLAggregation(JacobianAggregation):
    __doc__ = JacobianAggregation.__doc__

    @dataclass(frozen=True)
    class Options(JacobianAggregation.Options):
        scale_mode: str = "min"


#: the class of each aggregator with options of its own (the others take none)
OPTION_CLASSES: dict[str, type[JacobianAggregation]] = {
    "cagrad": CAGradAggregation, "nash-mtl": NashMTLAggregation,
    "aligned-mtl": AlignedMTLAggregation}

for _name, (_cls, _display, _summary, _order, _colour) in AGGREGATORS.items():
    register_variant(WEIGHTINGS, _name, OPTION_CLASSES.get(_name, JacobianAggregation),
                     WeightingInfo(summary=f"torchjd {_display}: {_summary}", display=_display,
                                   paper_name=_display, colour=_colour, order=_order,
                                   task_gradients=True),
                     aggregator=_name)
