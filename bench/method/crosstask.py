"""Shared machinery of the cross-task methods: (image, task-pair) rows and their inputs.

A *row* is one ``(n, s, t)`` triple: image ``n`` of the batch, source task ``s`` whose prediction is
mapped, target task ``t`` whose label is mapped. For image ``n`` with labelled tasks
:math:`\\mathcal T_n` and unlabelled tasks :math:`\\mathcal U_n`, the rows are
:math:`s \\in \\mathcal U_n, t \\in \\mathcal T_n` (Eq. 3–4); an image with every label uses every
ordered pair :math:`s \\ne t` (the paper's fully supervised use, Sec. 4.2, and the official code's
``full`` mode). Rows are built with tensor operations, in the order (n, s, t), never with a
Python loop over images.

The cross-task terms are computed on a second random scale-crop of each image (official code), so
these methods set ``needs_second_view`` and receive that view's predictions, labels and feature.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from bench.method.base import LR_SPACE, PartialLabelMethod, TrainingViews, View
from bench.nets.mapping import CrossTaskMapping, pair_index
from bench.nets.pairwise import PairwiseMaps
from bench.tasks import Task

#: what tuning searches for a method with a consistency term: learning rate, its weight, ramp-up
CONSISTENCY_SPACE: dict[str, dict[str, Any]] = {
    **LR_SPACE,
    "con_weight": {"type": "float", "low": 0.05, "high": 4.0, "log": True},
    "rampup_epochs": {"type": "float", "low": 0.0, "high": "0.5*epochs"},
}
#: … plus the FiLM parameters' learning rate for the conditional joint mapping
FILM_SPACE: dict[str, dict[str, Any]] = {
    **CONSISTENCY_SPACE,
    "optim.film.optimizer.lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
}


def pair_rows(mask: torch.Tensor, *, all_pairs_when_full: bool = True
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(n, s, t)`` index tensors of every row of a batch with label mask ``[B, K]``."""
    b, k = mask.shape
    unlabelled = ~mask
    if all_pairs_when_full:
        full = mask.all(1, keepdim=True)
        source_ok = unlabelled | full
    else:
        source_ok = unlabelled
    valid = source_ok[:, :, None] & mask[:, None, :] & ~torch.eye(k, dtype=torch.bool,
                                                                 device=mask.device)[None]
    n, s, t = valid.nonzero(as_tuple=True)
    return n, s, t


def encode_rows(tasks: Sequence[Task], values: dict[str, torch.Tensor], images: torch.Tensor,
                task_of_row: torch.Tensor, *, labels: bool) -> list[torch.Tensor | None]:
    """Per task ``k``, the encoded inputs of the rows whose task is ``k`` (in row order).

    ``values`` are predictions (``labels=False``: :meth:`Task.encode_prediction`, e.g. a hard
    Gumbel-softmax sample per row) or labels (``labels=True``: :meth:`Task.encode_label`).
    """
    out: list[torch.Tensor | None] = []
    for k, task in enumerate(tasks):
        rows = (task_of_row == k).nonzero().squeeze(1)
        if rows.numel() == 0:
            out.append(None)
            continue
        x = values[task.name][images[rows]]
        out.append(task.encode_label(x) if labels else task.encode_prediction(x))
    return out


def reduce_rows(values: torch.Tensor, n: torch.Tensor, s: torch.Tensor, batch: int,
                reduction: str) -> torch.Tensor:
    """The batch's cross-task term from per-row values ``[R]`` of rows (image ``n``, source ``s``).

    ``official`` (the official scripts): :math:`\\frac1B \\sum_n \\sum_{r \\in n} v_r`, the sum of an
    image's pair terms. ``paper`` (Eqs. 2–4 as written): :math:`\\frac1B \\sum_n
    \\frac{1}{|S_n|} \\sum_{r \\in n} v_r`, with :math:`S_n` the distinct source tasks of image n's
    rows: :math:`|\\mathcal U_n|` for rows :math:`s \\in \\mathcal U_n` (every task, K, for an image
    with every label, whose rows take every ordered pair).
    """
    if reduction == "official":
        return values.sum() / batch
    if reduction != "paper":
        raise ValueError(f"unknown loss reduction {reduction!r}")
    if values.numel() == 0:
        return values.sum()
    k = int(s.max()) + 1
    image_of_pair = torch.unique(n * k + s) // k
    sources = torch.bincount(image_of_pair, minlength=batch).to(values.dtype)
    return (values / sources[n]).sum() / batch


def mean_cosine_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per row: :math:`1 - \\frac{1}{HW}\\sum_{p} \\cos(a_p, b_p)`, cosine over channels ``[R]``.

    The official code's ``1 - F.cosine_similarity(a, b, dim=1, eps=1e-12).mean()`` for one row.
    """
    cos = torch.nn.functional.cosine_similarity(a, b, dim=1, eps=1e-12)
    return 1.0 - cos.flatten(1).mean(1)


def other_labelled_images(images: torch.Tensor, task: torch.Tensor, mask: torch.Tensor
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """For each row (image ``images[r]``, task ``task[r]``): another image of the batch labelled
    for that task, drawn uniformly; ``keep[r]`` is False where the batch has none.

    Returns ``(keep [R] bool, partner [R])`` (``partner`` is meaningful where ``keep``).
    """
    b = mask.shape[0]
    candidates = mask[:, task].t() & (torch.arange(b, device=mask.device)[None]
                                      != images[:, None])
    counts = candidates.sum(1)
    keep = counts > 0
    pick = (torch.rand(images.shape[0], device=mask.device) * counts).floor().long()
    pick = torch.minimum(pick, (counts - 1).clamp_min(0))
    position = candidates.long().cumsum(1) - 1
    partner = ((position == pick[:, None]) & candidates).long().argmax(1)
    return keep, partner


@dataclass
class Targets:
    """What the rows' targets index: the labels (and shared feature) of the view's images
    ``0 … B−1``, and, for a negative control, the banked label of task ``k`` (and the feature of
    its image) at ``B + k`` (:meth:`CrossTaskMethod.target_labels`)."""

    labels: dict[str, torch.Tensor]
    feature: torch.Tensor | None


class CrossTaskMethod(PartialLabelMethod):
    """Base of the methods that add a cross-task term computed on the second view.

    ``rampup_epochs`` > 0 ramps the cross-task weight up linearly from 0 over that many epochs
    (a protocol option; the official scripts' ``--rampup up`` uses 100 epochs; off by default,
    as in the official runs). ``shuffle_targets=True`` makes the method its own negative
    control: each row's target label (the label side of a cross-task pair) comes from *another*
    image labelled for that task (:func:`other_labelled_images`), so the cross-task relation
    between the two sides is destroyed and everything else is equal: the rows (when the batch
    holds no other image labelled for the task, the label of the last such image of an earlier
    batch is taken, from a bank kept with the weights, so the control has the method's rows
    from its second step on), the loss normalisation, the mappings, weights and optimisers, and
    the regulariser, which compares each mapped label with the feature of the image it is the
    label of, as the method does.
    """

    needs_second_view = True

    @dataclass(frozen=True)
    class Options(PartialLabelMethod.Options):
        #: λ of the cross-task term
        con_weight: float = 2.0
        #: the negative control: each row's target label from another image (see above)
        shuffle_targets: bool = False
        #: epochs over which the cross-task weight ramps up from 0 (0: none)
        rampup_epochs: float = 0.0

    def __init__(self, tasks: Sequence[Task], **kwargs: Any) -> None:
        super().__init__(tasks, **kwargs)
        self.base_con_weight = float(self.options.con_weight)
        self.shuffle_targets = bool(self.options.shuffle_targets)
        if self.shuffle_targets:  # the negative control's label bank (kept in checkpoints)
            self.register_buffer("bank_filled", torch.zeros(len(self.tasks), dtype=torch.bool))
            for k in range(len(self.tasks)):
                self.register_buffer(f"bank_label_{k}", None)
            self.register_buffer("bank_feature", None)

    @property
    def rampup_epochs(self) -> float:
        return float(self.options.rampup_epochs)

    @property
    def con_weight(self) -> float:
        """:math:`\\lambda` of the cross-task term, times the ramp-up factor (1 without one)."""
        return self.base_con_weight * self.consistency_scale

    def target_images(self, images: torch.Tensor, task: torch.Tensor | int, mask: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(keep, images)`` whose labels the rows' targets take (indices into
        :meth:`target_labels`): each row's own image, or, for the negative control, another
        image labelled for the row's task, else that task's banked label (``B + task``); a row
        is left out only when there is neither (the control's first step)."""
        if not isinstance(task, torch.Tensor):
            task = torch.full_like(images, int(task))
        if not self.shuffle_targets:
            return torch.ones_like(images, dtype=torch.bool), images
        keep, partner = other_labelled_images(images, task, mask)
        banked = self.bank_filled.to(task.device)[task] & ~keep
        partner = torch.where(banked, mask.shape[0] + task, partner)
        return keep | banked, partner

    def target_labels(self, view: View, mask: torch.Tensor) -> Targets:
        """The labels and feature that :meth:`target_images` indexes: the view's own, with each
        task's banked label and feature appended for the negative control."""
        if not self.shuffle_targets:
            return Targets(dict(view.labels), view.feature)
        if not bool(self.bank_filled.any()):
            return Targets(dict(view.labels), view.feature)
        labels = {}
        for k, task in enumerate(self.tasks):
            own = view.labels[task.name]
            slots = own.new_zeros((len(self.tasks), *own.shape[1:]))
            if bool(self.bank_filled[k]):
                slots[k] = getattr(self, f"bank_label_{k}").to(own)
            labels[task.name] = torch.cat([own, slots])
        feature = view.feature
        if feature is not None and self.bank_feature is not None:
            feature = torch.cat([feature, self.bank_feature.to(feature)])
        return Targets(labels, feature)

    def after_step_terms(self, views: TrainingViews) -> None:
        """The negative control banks, per task, the label (and feature) of the last image of
        this batch labelled for it, for rows of later batches that find no other image."""
        super().after_step_terms(views)
        if not self.shuffle_targets:
            return
        view, mask = views.second, views.mask
        with torch.no_grad():
            for k, task in enumerate(self.tasks):
                labelled = mask[:, k].nonzero().squeeze(1)
                if labelled.numel() == 0:
                    continue
                i = int(labelled[-1])
                setattr(self, f"bank_label_{k}", view.labels[task.name][i].detach().clone())
                if view.feature is not None:
                    if self.bank_feature is None:
                        self.bank_feature = view.feature.new_zeros(
                            (len(self.tasks), *view.feature.shape[1:]))
                    self.bank_feature[k] = view.feature[i].detach()
                self.bank_filled[k] = True

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any,
                              **kwargs: Any) -> None:
        # the bank is made at its first batch: give it the checkpoint's shapes before loading
        for name in [f"bank_label_{k}" for k in range(len(self.tasks))] + ["bank_feature"]:
            if self.shuffle_targets and prefix + name in state_dict:
                setattr(self, name, torch.empty_like(state_dict[prefix + name]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def consistency_rows(self, mask: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(n, s, t, m)``, one entry per row of the cross-task term: image ``n``, its
        unlabelled source task ``s`` and labelled target task ``t`` (:func:`pair_rows`), and the
        image ``m`` whose label of ``t`` the row targets (:meth:`target_images`: an index into
        :meth:`target_labels`; the control's rows of its first step that find neither another
        image nor a banked label are left out)."""
        n, s, t = pair_rows(mask)
        keep, m = self.target_images(n, t, mask)
        return n[keep], s[keep], t[keep], m[keep]

    def reduce_rows(self, values: torch.Tensor, n: torch.Tensor, s: torch.Tensor,
                    batch: int) -> torch.Tensor:
        """:func:`reduce_rows` with this method's loss reduction."""
        return reduce_rows(values, n, s, batch, self.reduction)


class JointMappingMethod(CrossTaskMethod):
    """Cross-task methods in the joint pairwise task spaces of :class:`CrossTaskMapping`.

    Builds the mapping (``cond=False``: one mapping for every pair, no FiLM) and gives its FiLM
    parameters their own optimiser group (official code: Adam lr 1e-3, StepLR(30, 0.5)).
    """

    film_defaults: ClassVar[dict[str, Any]] = {
        "optimizer": {"type": "Adam", "lr": 1e-3},
        "scheduler": {"type": "StepLR", "step_size": 30, "gamma": 0.5},
    }

    @dataclass(frozen=True)
    class Options(CrossTaskMethod.Options):
        #: FiLM conditioning on the task pair (False: one mapping for every pair, Table 6)
        cond: bool = True

    def __init__(self, tasks: Sequence[Task], **kwargs: Any) -> None:
        super().__init__(tasks, **kwargs)
        self.mapping: CrossTaskMapping = self.architecture.joint_mapping(self.tasks, self.width,
                                                                         self.options.cond)

    @classmethod
    def optim_group_defaults(cls, options: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {"film": cls.film_defaults} if options.get("cond", True) else {}

    @torch.no_grad()
    def mapped_pairs(self, image: torch.Tensor, labels: dict[str, torch.Tensor],
                     min_side: int = 8) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
        """Predictions of one image ``[3, H, W]`` and, per ordered pair (s, t), both mapped maps.

        The maps are the deepest encoder stage of the mapping (before its pooling) whose shorter
        side is still ≥ ``min_side`` pixels: the paper shows "the output of the mapping
        function's last second layer"; this keeps the map readable at CPU sizes. Each row holds
        ``source`` = :math:`m^{s\\to st}(\\hat y^s)`, ``target`` = :math:`m^{t\\to st}(y^t)`
        (``[C, h, w]``), their per-pixel cosine similarity ``cos`` and the ``stage`` index.
        """
        k = len(self.tasks)
        with torch.random.fork_rng():
            torch.manual_seed(0)  # the Gumbel sample of a segmentation prediction
            preds = self.predict_tensors(image[None])
            rows = []
            for si, s in enumerate(self.tasks):
                for ti, t in enumerate(self.tasks):
                    if si == ti:
                        continue
                    dev = image.device
                    pair = pair_index(torch.tensor([si], device=dev),
                                      torch.tensor([ti], device=dev), k)
                    src: list[torch.Tensor | None] = [None] * k
                    tgt: list[torch.Tensor | None] = [None] * k
                    src[si] = s.encode_prediction(preds[s.name])
                    tgt[ti] = t.encode_label(labels[t.name][None])
                    a = self.mapping.stage_outputs(src, torch.tensor([si], device=dev), pair)
                    b = self.mapping.stage_outputs(tgt, torch.tensor([ti], device=dev), pair)
                    ok = [i for i, x in enumerate(a) if min(x.shape[-2:]) >= min_side]
                    stage = ok[-1] if ok else 0
                    fa, fb = a[stage][0], b[stage][0]
                    cos = torch.nn.functional.cosine_similarity(fa, fb, dim=0, eps=1e-12)
                    rows.append({"source_task": s.name, "target_task": t.name,
                                 "source": fa.cpu().numpy(), "target": fb.cpu().numpy(),
                                 "cos": cos.cpu().numpy(), "stage": stage})
        return {name: v[0] for name, v in preds.items()}, rows

    def optim_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        film = self.mapping.film_parameters()
        film_ids = {id(p) for p in film}
        groups = {"net": [p for p in self.parameters() if p.requires_grad and id(p) not in film_ids]}
        if film:
            groups["film"] = film
        return groups


class PairwiseMappingMethod(CrossTaskMethod):
    """Cross-task methods with one mapping network per ordered task pair (Zamir et al. 2020)."""

    def __init__(self, tasks: Sequence[Task], **kwargs: Any) -> None:
        super().__init__(tasks, **kwargs)
        self.maps = PairwiseMaps(self.tasks, self.width, self.architecture)
