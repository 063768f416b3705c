"""The paper's method: cross-task consistency in conditional joint pairwise task spaces (Eq. 4)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from bench.metadata import MethodInfo
from bench.method.base import TrainingViews
from bench.method.crosstask import (
    CONSISTENCY_SPACE,
    FILM_SPACE,
    JointMappingMethod,
    encode_rows,
    mean_cosine_distance,
)
from bench.method.probe import joint_probe
from bench.nets.mapping import CrossTaskMapping, pair_index
from bench.registry import register_method, register_method_variant
from bench.tasks import Task


def map_rows(mapping: CrossTaskMapping, tasks: Sequence[Task], preds: dict[str, torch.Tensor],
             labels: dict[str, torch.Tensor], n: torch.Tensor, s: torch.Tensor, t: torch.Tensor,
             target_images: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """:math:`m^{s\\to st}(\\hat y^s_n)` and :math:`m^{t\\to st}(y^t_n)` for all rows, one pass.

    Source and target rows are stacked (2R rows), each with its input task and the pair index
    of its row (the official code conditions both mappings on ``A[s, t] = 1``). The targets take
    the labels of ``target_images`` (default: each row's own image ``n``).
    """
    k = len(tasks)
    src = encode_rows(tasks, preds, n, s, labels=False)
    tgt = encode_rows(tasks, labels, n if target_images is None else target_images, t,
                      labels=True)
    # rows 0..R-1 are sources, R..2R-1 targets; the rows of input task k, in that order, are
    # exactly cat(src[k], tgt[k])
    inputs = [torch.cat([x for x in (a, b) if x is not None]) if (a is not None or b is not None)
              else None for a, b in zip(src, tgt, strict=True)]
    mapped = mapping(inputs, torch.cat([s, t]), pair_index(s, t, k).repeat(2))
    r = s.numel()
    return mapped[:r], mapped[r:]


def xtc_row_losses(mapped_source: torch.Tensor, mapped_target: torch.Tensor,
                   feature: torch.Tensor, reg_weight: float,
                   target_feature: torch.Tensor | None = None) -> torch.Tensor:
    """Per row: :math:`L_{ct}(m_s, m_t) + \\lambda_R [R(f, m_s) + R(f', m_t)]`, cosine distances.

    ``feature`` is :math:`f_\\phi(x_n)` of each row's image and ``target_feature``
    :math:`f' = f_\\phi(x_m)` of the image whose label the target is (the row's own, ``n``, for
    the method; another one for its negative control, so that each mapped output is pulled
    towards the feature of its own image in both); both are detached here (the regulariser pulls
    the mapped outputs towards the image feature, never the feature towards them).
    """
    loss = mean_cosine_distance(mapped_source, mapped_target)
    if reg_weight > 0:
        f = feature.detach()
        g = f if target_feature is None else target_feature.detach()
        loss = loss + reg_weight * (mean_cosine_distance(mapped_source, f)
                                    + mean_cosine_distance(mapped_target, g))
    return loss


REG_SPACE = {"reg_weight": {"type": "float", "low": 0.01, "high": 2.0, "log": True}}
XTC_SPACE = {**FILM_SPACE, **REG_SPACE}
XTC_INFO = MethodInfo(
    summary="", display="Cross-task (XTC)", short="XTC", paper_name="Ours", family="xtc",
    colour="#D55E00", order=70, mapped_figure=True, sets=("power",), search_space=XTC_SPACE)


@register_method("xtc", XTC_INFO)
class CrossTaskConsistency(JointMappingMethod):
    """XTC (the paper's "Ours"): cross-task consistency in conditional pairwise task spaces (Eq. 4).

    For image :math:`n` and every pair :math:`s \\in \\mathcal U_n, t \\in \\mathcal T_n`
    (every ordered pair when the image is fully labelled):

    .. math::
        \\ell_n = \\sum_{s,t} L_{ct}(m^{s\\to st}(\\hat y^s_n), m^{t\\to st}(y^t_n))
                 + \\lambda_R \\big[R(f_\\phi(x_n), m^{s\\to st}(\\hat y^s_n))
                                  + R(f_\\phi(x_n), m^{t\\to st}(y^t_n))\\big]

    with :math:`L_{ct}(a, b) = R(a, b) = 1 - \\cos(a, b)` averaged over positions, :math:`f_\\phi`
    the last pooled encoder map (detached), and the loss
    :math:`\\mathcal L = \\mathcal L_{\\text{Eq.1}} + \\lambda_{ct} \\frac1B \\sum_n \\ell_n`,
    :math:`\\lambda_{ct} = 2`, :math:`\\lambda_R = 0.5` (NYUv2; Cityscapes :math:`\\lambda_{ct}=1`).

    Choices where the paper is silent follow the official code (``nyu_mtl_xtc.py``,
    ``model/mapfns.py``): the mapping is the SegNet encoder with one input layer per task and FiLM
    on every encoder conv (:class:`~bench.nets.mapping.CrossTaskMapping`); predictions enter as
    hard Gumbel-softmax samples / depth over its per-image maximum / ``(n+1)/2``; the terms are
    computed on a second random scale-crop of the image with that crop's labels; pairs are summed
    per image, not averaged (Eq. 4 writes :math:`1/|\\mathcal U_n|`; the official weights were
    tuned with the sum); the FiLM parameters have their own Adam (lr 1e-3, StepLR(30, 0.5)).
    Options give the ablations: ``cond=False`` one mapping for all pairs (Table 6 "w/o cond"),
    ``reg_weight=0`` (Table 6 "w/o reg"). "Ours + Uncertainty" (Table 5) is this method with the
    uncertainty weighting (``--methods xtc --weighting uncertainty``, row ``xtc+uncertainty``):
    the weighting applies to the supervised task losses, the consistency term keeps
    :math:`\\lambda_{ct}`.
    """

    @dataclass(frozen=True)
    class Options(JointMappingMethod.Options):
        #: λ_R of the regulariser (0: Table 6 "w/o reg")
        reg_weight: float = 0.5

    def __init__(self, tasks: Sequence[Task], **kwargs: Any) -> None:
        super().__init__(tasks, **kwargs)
        self.reg_weight = float(self.options.reg_weight)

    def extra_losses(self, views: TrainingViews) -> dict[str, torch.Tensor]:
        n, s, t, m = self.consistency_rows(views.mask)
        if n.numel() == 0:
            return {}
        v = views.second
        targets = self.target_labels(v, views.mask)
        ms, mt = map_rows(self.mapping, self.tasks, v.preds, targets.labels, n, s, t, m)
        rows = xtc_row_losses(ms, mt, v.feature[n], self.reg_weight, targets.feature[m])
        return {"loss_xtc": self.con_weight * self.reduce_rows(rows, n, s, views.batch_size),
                "xtc_consistency": mean_cosine_distance(ms, mt).mean().detach(),
                **joint_probe(ms, mt, pair_index(s, t, len(self.tasks)), n)}


def xtc_loss_per_row_loop(model: CrossTaskConsistency, mask: torch.Tensor,
                          preds: dict[str, torch.Tensor], labels: dict[str, torch.Tensor],
                          feature: torch.Tensor) -> torch.Tensor:
    """The same loss as :meth:`CrossTaskConsistency.extra_losses`, the official code's way.

    A Python loop over images and task pairs, with one mapping call per input (what
    ``model/mapfns.py`` does). Used as the reference in tests and timed by ``bench perf``.
    """
    k = len(model.tasks)
    total = feature.new_zeros(())
    for n in range(mask.shape[0]):
        sources = [s for s in range(k) if not mask[n, s]] or list(range(k))
        for s in sources:
            for t in range(k):
                if s == t or not mask[n, t]:
                    continue
                pair = pair_index(torch.tensor([s]), torch.tensor([t]), k).to(feature.device)
                ts, tt = model.tasks[s], model.tasks[t]
                ms = model.mapping([ts.encode_prediction(preds[ts.name][n:n + 1]) if i == s
                                    else None for i in range(k)],
                                   torch.tensor([s], device=feature.device), pair)
                mt = model.mapping([tt.encode_label(labels[tt.name][n:n + 1]) if i == t
                                    else None for i in range(k)],
                                   torch.tensor([t], device=feature.device), pair)
                total = total + xtc_row_losses(ms, mt, feature[n:n + 1], model.reg_weight).sum()
    return model.con_weight * total / mask.shape[0]


class OfficialStyleLoop(CrossTaskConsistency):
    """XTC with its loss computed the official code's way (:func:`xtc_loss_per_row_loop`)."""

    def extra_losses(self, views: TrainingViews) -> dict[str, torch.Tensor]:
        v = views.second
        return {"loss_xtc": xtc_loss_per_row_loop(self, views.mask, v.preds, v.labels, v.feature)}


def _variant(name: str, cls: type, summary: str, display: str, short: str, colour: str,
             order: int, paper_name: str | None = None, **kw: object) -> None:
    flags = {k: kw.pop(k) for k in ("in_all", "sets", "control_of", "search_space") if k in kw}
    info = MethodInfo(summary=summary, display=display, short=short, family="xtc",
                      colour=colour, order=order, paper_name=paper_name, mapped_figure=True,
                      **flags)
    register_method_variant(name, cls, info, **kw)


_variant("xtc-nocond", CrossTaskConsistency,
         "XTC w/o cond: one joint mapping for every task pair, no FiLM (Table 6)",
         "XTC (w/o cond)", "XTC w/o cond", "#F4A582", 71, "Ours-w/o-cond",
         search_space={**CONSISTENCY_SPACE, **REG_SPACE}, cond=False)
_variant("xtc-noreg", CrossTaskConsistency,
         "XTC w/o reg: without the regulariser to the image feature (Table 6)",
         "XTC (w/o reg)", "XTC w/o reg", "#9E1B32", 72, "Ours-w/o-reg",
         search_space=FILM_SPACE, reg_weight=0.0)
_variant("xtc-shuffled", CrossTaskConsistency,
         "Negative control of XTC: each pair's label side comes from another image of the batch",
         "XTC (shuffled pairs)", "XTC shuffled", "#BDBDBD", 75, in_all=False,
         sets=("controls",), control_of="xtc", search_space=XTC_SPACE, shuffle_targets=True)
_variant("xtc-loop", OfficialStyleLoop,
         "XTC computed as the official code does (a Python loop over images and task pairs): "
         "the reference of bench perf and of the batched loss",
         "XTC (official-style loop)", "XTC loop", "#E9967A", 74, in_all=False,
         sets=("reference",))
