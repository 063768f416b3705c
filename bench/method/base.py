"""Common base of every method: an mmengine ``BaseModel`` around the multi-task network.

A method turns a batch (images, the labels the regime keeps, the label mask ``[B, K]``) into
losses. The base class owns the network (:meth:`PartialLabelMethod.build_network`, a SegNet by
default), the supervised term of Eq. 1 through the run's task weighting (the ``--weighting`` axis,
:mod:`bench.weightings`), evaluation and the optimiser step; subclasses add their own modules and
loss terms by overriding :meth:`PartialLabelMethod.extra_losses`, which receives the batch's
predictions as one :class:`TrainingViews`. Several optimiser groups (net, FiLM, …) step jointly
after one backward (:func:`joint_step`); a method with alternating updates overrides
:meth:`train_step` and ends it with :meth:`PartialLabelMethod.update`.

How a weighting composes with a method: the weighting combines the *supervised* task losses
only; the method's extra terms (``loss_*`` other than ``loss_sup``, e.g. XTC's consistency) keep
the weights the method gives them and are added as they are. A gradient weighting (GradNorm, the
torchjd aggregators) builds the shared parameters' update from the per-task gradients and adds the
extra terms' gradient to it unchanged (:meth:`bench.weightings.Weighting.backward`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper, OptimWrapperDict
from torch import nn

from bench.data.intrinsics import Intrinsics
from bench.nets.arch import get_architecture
from bench.nets.norm import sync_running_statistics
from bench.tasks import Task
from bench.weightings import TaskLosses, WeightingSpec, build_weighting, loss_matrix

#: the learning rate every method's tuning searches (log-uniform), relative to its profile
#: section ``methods.<name>``; each method adds its own options (see ``MethodInfo.search_space``)
LR_SPACE: dict[str, dict[str, Any]] = {
    "optim.net.optimizer.lr": {"type": "float", "low": 3e-4, "high": 1e-2, "log": True}}


@dataclass
class View:
    """One view of a batch: images, the network's predictions on them, their labels, feature."""

    image: torch.Tensor  # [B, 3, H, W]
    preds: dict[str, torch.Tensor]  # task → [B, C_t, H, W] (after the task's activation)
    labels: dict[str, torch.Tensor]  # task → label (unlabelled tasks blanked)
    feature: torch.Tensor | None  # shared encoder feature f_φ(x), [B, C, H/32, W/32]


@dataclass
class TrainingViews:
    """What a method's extra terms see for one training batch.

    ``second`` is the second random scale-crop of every image, with its own predictions, labels
    and feature, for methods that set ``needs_second_view``; otherwise it is ``main`` itself.
    """

    mask: torch.Tensor  # [B, K] bool, True = label kept
    main: View
    second: View

    @property
    def batch_size(self) -> int:
        return int(self.mask.shape[0])


def joint_step(wrappers: Sequence[OptimWrapper], loss: torch.Tensor | None) -> None:
    """One backward of ``loss`` (None: the gradients are already there, from a gradient
    weighting), then every optimiser wrapper steps and clears its gradients.

    Under loss scaling (``AmpOptimWrapper``, CUDA) the wrappers share the first one's scaler:
    one scaled backward, ``scaler.step`` per optimiser (each unscales its own gradients and
    skips its step on inf/NaN), then one ``scaler.update`` (the multi-optimiser recipe of
    ``torch.amp``); a scaler per wrapper would unscale with scales that drift apart. In a
    data-parallel run every group's gradients are averaged over the processes before any step.
    """
    scaler = getattr(wrappers[0], "loss_scaler", None)
    if scaler is None:
        if loss is not None:
            wrappers[0].backward(loss)  # averages its group's gradients over processes, if any
            _average_gradients(wrappers[1:])
        else:
            _average_gradients(wrappers)
        for w in wrappers:
            w.step()
    else:
        if loss is not None:
            scaler.scale(loss).backward()
        _average_gradients(wrappers)
        for w in wrappers:
            scaler.step(w.optimizer)
        scaler.update()
    for w in wrappers:
        w.zero_grad()


def runner_epoch() -> int | None:
    """The 0-based epoch the running mmengine loop publishes (None outside a runner)."""
    from mmengine.logging import MessageHub

    epoch = MessageHub.get_current_instance().get_info("epoch")
    return None if epoch is None else int(epoch)


def wrapper_list(optim_wrapper: Any) -> list[OptimWrapper]:
    """The optimiser wrappers of a step: every group of a dict, or the single wrapper."""
    if isinstance(optim_wrapper, OptimWrapperDict):
        return list(optim_wrapper.values())
    return [optim_wrapper]


def _average_gradients(wrappers: Sequence[OptimWrapper]) -> None:
    """Data-parallel runs: the wrappers average their groups' gradients over the processes
    (:mod:`bench.engine.distributed`); plain wrappers have nothing to do."""
    for w in wrappers:
        average = getattr(w, "average_gradients", None)
        if average is not None:
            average()


class PartialLabelMethod(BaseModel):
    """Multi-task SegNet trained on the labels each image keeps (Eq. 1).

    The contract with the engine (:mod:`bench.engine.build`), all declared here:

    * construction: ``cls(tasks, width=…, weighting=…, reduction=…, arch=…, pretrained=…,
      stages=…, camera=…, **options)``; the keyword arguments before ``options`` come from the
      config's other sections (tasks from the dataset, width, arch, pretrained and stages from
      ``model``, reduction from ``train.loss_reduction``, the weighting from the run's
      ``weighting`` axis, the camera intrinsics from the dataset at the run's size), and
      ``options`` are the method's own, the fields of its :class:`Options` (resolved with their
      defaults into the run's identity; an unknown one is a ``TypeError``). A subclass states
      only the options it adds, in an ``Options`` dataclass derived from its base's;
    * :attr:`needs_second_view`: the data loader adds a second random scale-crop view;
    * :attr:`rampup_epochs`: the engine ramps :attr:`consistency_scale` from 0 to 1 over them;
    * :meth:`optim_group_defaults` / :meth:`optim_groups`: optimiser groups besides ``net``;
    * :meth:`mapped_pairs`: what the report draws of a joint task-pair mapping (None: none);
    * :meth:`extra_losses` (or :meth:`loss`, :meth:`train_step`): the method's terms.
    """

    #: the data loader adds a second random scale-crop view (``batch['view2']``)
    needs_second_view: ClassVar[bool] = False

    @dataclass(frozen=True)
    class Options:
        """The method's own options (none for SL); a subclass derives its own from these."""

    def __init__(self, tasks: Sequence[Task], *, width: float = 1.0,
                 weighting: WeightingSpec = "equal", reduction: str = "official",
                 arch: str | None = None, pretrained: str | None = None,
                 stages: int | None = None, camera: Intrinsics | None = None,
                 **options: Any) -> None:
        super().__init__()
        #: the method's options (:class:`Options`)
        self.options = self.Options(**options)
        self.tasks = list(tasks)
        self.task_names = [t.name for t in self.tasks]
        self.reduction = reduction
        #: the backbone (``model.arch``, with ``model.stages``): builds the network and the
        #: mappings that match it
        self.architecture = get_architecture(arch, **({"stages": stages} if stages else {}))
        #: the camera of the images (:meth:`bench.data.base.DenseDataset.intrinsics`), for
        #: geometric terms; None where the dataset declares none
        self.camera = camera
        self.pretrained = pretrained
        self.width = float(width)
        self.net = self.build_network(width)
        self.weighting = build_weighting(weighting, len(self.tasks), reduction,
                                         tuple(self.task_names))
        self._task_losses: TaskLosses | None = None
        #: factor on the method's consistency terms, set before every step by the engine's
        #: ramp-up hook (:attr:`rampup_epochs`)
        self.consistency_scale = 1.0
        #: images enter the network in channels-last order (``model.channels_last``; the engine
        #: converts the parameters with :meth:`use_channels_last`)
        self.channels_last = False

    @property
    def rampup_epochs(self) -> float:
        """Epochs over which the engine ramps :attr:`consistency_scale` up from 0 (0: no ramp;
        a method with a consistency term takes it as its option ``rampup_epochs``)."""
        return 0.0

    def mapped_pairs(self, image: torch.Tensor, labels: dict[str, torch.Tensor]
                     ) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]] | None:
        """Predictions of one image and, per task pair, both sides of its joint mapping, for
        the report's figure of the mapped outputs; ``None`` for a method without one."""
        return None

    def use_channels_last(self) -> PartialLabelMethod:
        """Channels-last parameters and input images (``model.channels_last``)."""
        self.channels_last = True
        return self.to(memory_format=torch.channels_last)

    def layout(self, image: torch.Tensor) -> torch.Tensor:
        """``image`` in the memory layout the network's parameters have."""
        return image.contiguous(memory_format=torch.channels_last) if self.channels_last else image

    def build_network(self, width: float) -> nn.Module:
        """The network: ``forward(image) → (predictions per task, shared feature)``, of the
        method's architecture (SegNet unless ``arch`` names another, see :mod:`bench.nets.arch`)."""
        return self.architecture.network(self.tasks, width, self.pretrained)

    # -- mmengine entry points ------------------------------------------------------------------
    def forward(self, image: torch.Tensor, labels: dict[str, torch.Tensor] | None = None,
                label_mask: torch.Tensor | None = None, index: torch.Tensor | None = None,
                view2: dict[str, Any] | None = None, mode: str = "tensor") -> Any:
        if mode == "loss":
            if labels is None or label_mask is None:
                raise ValueError("mode='loss' needs the batch's labels and label_mask")
            return self.loss(image, labels, label_mask.bool(), view2)
        if mode == "predict":
            return self.predict(image)
        return self.predict_tensors(image)

    def loss(self, image: torch.Tensor, labels: dict[str, torch.Tensor], mask: torch.Tensor,
             view2: dict[str, Any] | None) -> dict[str, torch.Tensor]:
        """Supervised term of Eq. 1 plus :meth:`extra_losses` (keys containing ``loss`` add up)."""
        if view2 is not None and self.needs_second_view:
            both, feats = self.net(self.layout(torch.cat([image, view2["image"]])))
            b = image.shape[0]
            main = View(image, {k: v[:b] for k, v in both.items()}, labels, feats[:b])
            second = View(view2["image"], {k: v[b:] for k, v in both.items()}, view2["labels"],
                          feats[b:])
        else:
            preds, feature = self.net(self.layout(image))
            main = second = View(image, preds, labels, feature)
        views = TrainingViews(mask, main, second)
        losses = self.supervised_losses(main.preds, labels, mask)
        losses.update(self.extra_losses(views))
        self.after_step_terms(views)
        return losses

    def after_step_terms(self, views: TrainingViews) -> None:
        """Called once per step after :meth:`extra_losses` (a method's state that follows the
        batches, e.g. a negative control's label bank); nothing by default."""

    def supervised_losses(self, preds: dict[str, torch.Tensor], labels: dict[str, torch.Tensor],
                          mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """``loss_sup`` (Eq. 1 through the weighting) and per-task mean losses for the log."""
        matrix = loss_matrix(self.tasks, preds, labels, mask)
        self._task_losses = TaskLosses(matrix, mask, self.reduction)
        out = {"loss_sup": self.weighting.loss(self._task_losses, self.net)}
        counts = mask.sum(0)
        for k, name in enumerate(self.task_names):
            if counts[k] > 0:
                out[f"sup_{name}"] = (matrix[:, k].sum() / counts[k]).detach()
        return out

    def extra_losses(self, views: TrainingViews) -> dict[str, torch.Tensor]:
        """Method-specific terms (none for SL)."""
        return {}

    def train_step(self, data: Any, optim_wrapper: Any) -> dict[str, torch.Tensor]:
        """One step: the losses, then one update of every optimiser group (:meth:`update`)."""
        data = self.data_preprocessor(data, True)
        self.weighting.begin_step(runner_epoch())
        wrappers = wrapper_list(optim_wrapper)
        with wrappers[0].optim_context(self):  # autocast under train.amp
            losses = self._run_forward(data, mode="loss")
        return self.update(losses, wrappers)

    def update(self, losses: dict[str, torch.Tensor],
               wrappers: Sequence[OptimWrapper]) -> dict[str, torch.Tensor]:
        """Backward of the step's losses through the weighting, then every wrapper steps.

        A loss weighting: one backward of the sum of the ``loss`` terms (:func:`joint_step`).
        A gradient weighting: :meth:`~bench.weightings.Weighting.backward` with the supervised task
        losses and the method's other terms, then the steps. In a data-parallel run the per-image
        batch norms' running statistics are then updated with every process's rows
        (:func:`bench.nets.norm.sync_running_statistics`). Returns the log values (the
        weights of the step as ``w_<task>``).
        """
        total, log_vars = self.parse_losses(losses)
        if self.weighting.task_gradients and self._task_losses is not None:
            extra_terms = [v for k, v in losses.items() if "loss" in k and k != "loss_sup"]
            extra = torch.stack(extra_terms).sum() if extra_terms else None
            params = [p for w in wrappers for group in w.optimizer.param_groups
                      for p in group["params"] if p.requires_grad]
            self.weighting.backward(self._task_losses, total, extra, self.net, params)
            joint_step(wrappers, None)
        else:
            joint_step(wrappers, total)
        sync_running_statistics(self)  # data-parallel runs: the mappings' per-image batch norms
        self._task_losses = None
        log_vars.update(self.weighting.log_values())
        return log_vars

    # -- evaluation -----------------------------------------------------------------------------
    def predict_tensors(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """Batched predictions ``{task: [B, C, H, W]}`` (after each task's activation)."""
        return self.net(self.layout(image))[0]

    @torch.no_grad()
    def predict(self, image: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """Per-image predictions in the form the metrics read (e.g. a class map)."""
        preds = self.predict_tensors(image)
        out = {task.name: task.metric_prediction(preds[task.name]) for task in self.tasks}
        return [{k: v[i] for k, v in out.items()} for i in range(image.shape[0])]

    # -- optimisation ---------------------------------------------------------------------------
    @classmethod
    def optim_group_defaults(cls, options: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Optimiser groups besides ``net`` (for these options) and their default settings.

        A profile overrides them under ``methods.<family>.optim.<group>``.
        """
        return {}

    def optim_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters per optimiser group; ``net`` gets the profile's main optimiser."""
        return {"net": [p for p in self.parameters() if p.requires_grad]}
