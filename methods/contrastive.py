"""Contrastive-Loss: the joint pairwise spaces trained with a margin loss instead of L_ct + R."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from bench.metadata import MethodInfo
from bench.method.base import TrainingViews
from bench.method.crosstask import FILM_SPACE, JointMappingMethod, encode_rows
from bench.method.probe import negatives_probe
from bench.nets.mapping import CrossTaskMapping, pair_index
from bench.registry import register_method, register_method_variant
from bench.tasks import Task


def map_with_negatives(mapping: CrossTaskMapping, tasks: Sequence[Task],
                       preds: dict[str, torch.Tensor], labels: dict[str, torch.Tensor],
                       n: torch.Tensor, s: torch.Tensor, t: torch.Tensor, batch: int,
                       target_images: torch.Tensor | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mapped labels of the rows, and the mapped predictions of *every* image for each distinct
    task pair of the batch.

    Returns ``target [R, C, h, w]``, ``sources [P, B, C, h, w]`` and ``pair_of_row [R]`` with
    ``sources[pair_of_row[r], j]`` = :math:`m^{s_r\\to s_r t_r}(\\hat y^{s_r}(x_j))`: the positive
    of row r is image ``n_r``, the other images its negatives. Each distinct pair is mapped once
    for all B images, in the same pass as the targets (``P·B + R`` rows), and is not copied per
    row (``[R, B, C, h, w]`` would be hundreds of MB at full width). The targets take the labels
    of ``target_images`` (default: each row's own image ``n``).
    """
    k = len(tasks)
    pairs = pair_index(s, t, k)
    uniq, inverse = torch.unique(pairs, return_inverse=True)
    us = uniq // (k - 1)  # source task of each distinct pair
    all_images = torch.arange(batch, device=n.device)
    src_n = all_images.repeat(len(uniq))
    src_s = us.repeat_interleave(batch)
    src_pair = uniq.repeat_interleave(batch)
    src = encode_rows(tasks, preds, src_n, src_s, labels=False)
    tgt = encode_rows(tasks, labels, n if target_images is None else target_images, t,
                      labels=True)
    inputs = [torch.cat([x for x in (a, b) if x is not None]) if (a is not None or b is not None)
              else None for a, b in zip(src, tgt, strict=True)]
    mapped = mapping(inputs, torch.cat([src_s, t]), torch.cat([src_pair, pairs]))
    m = src_n.numel()
    return mapped[m:], mapped[:m].view(len(uniq), batch, *mapped.shape[1:]), inverse


def cosine_distances(target: torch.Tensor, sources: torch.Tensor, pair_of_row: torch.Tensor
                     ) -> torch.Tensor:
    """``d[r, j]`` = :func:`~bench.method.crosstask.mean_cosine_distance` of ``target[r]`` and
    ``sources[pair_of_row[r], j]``, ``[R, B]``.

    With unit vectors over channels :math:`\\bar a_p = a_p / \\max(\\lVert a_p\\rVert, \\epsilon)`
    (``F.cosine_similarity``'s normalisation, :math:`\\epsilon = 10^{-12}`), the mean over the
    :math:`hw` pixels of the cosines is one dot product,
    :math:`d = 1 - \\frac{1}{hw}\\sum_{c,p} \\bar a_{cp} \\bar q_{cp}`: one matrix product per
    distinct pair, with no per-row copy of the sources.
    """
    r = target.shape[0]
    p, b = sources.shape[:2]
    pixels = target[0, 0].numel()
    unit_t = F.normalize(target, dim=1, eps=1e-12).flatten(1)
    unit_s = F.normalize(sources.flatten(0, 1), dim=1, eps=1e-12).view(p, b, -1)
    sim = target.new_zeros(r, b)
    for k in range(p):
        rows = (pair_of_row == k).nonzero().squeeze(1)
        if rows.numel():
            sim = sim.index_put((rows,), unit_t[rows] @ unit_s[k].T)
    return 1.0 - sim / pixels


def margin_row_losses(target: torch.Tensor, sources: torch.Tensor, pair_of_row: torch.Tensor,
                      n: torch.Tensor, margin: float) -> torch.Tensor:
    """Per row: :math:`\\frac{1}{B-1}\\sum_{j\\ne n}\\max(0, \\mu + d(a, p) - d(a, q_j))`.

    Anchor :math:`a = m^{t\\to st}(y^t_n)` (``target[r]``), positive
    :math:`p = m^{s\\to st}(\\hat y^s_n)`, negatives :math:`q_j = m^{s\\to st}(\\hat y^s_j)` (row r's
    pair of ``sources``, see :func:`map_with_negatives`), :math:`d` the mean cosine distance
    (:func:`cosine_distances`). Zero when the batch holds a single image (no negative).
    """
    r, b = target.shape[0], sources.shape[1]
    if b < 2:
        return target.new_zeros(r)
    d = cosine_distances(target, sources, pair_of_row)
    pos = d.gather(1, n[:, None])
    hinge = (margin + pos - d).clamp_min(0)
    negatives = torch.ones_like(hinge, dtype=torch.bool).scatter_(1, n[:, None], False)
    return (hinge * negatives).sum(1) / (b - 1)


SEARCH_SPACE = {**FILM_SPACE, "margin": {"type": "float", "low": 0.1, "high": 1.0}}


@register_method("contrastive", MethodInfo(
    summary="", display="Contrastive-Loss", short="Contrastive", paper_name="Contrastive-Loss",
    family="contrastive", colour="#CC79A7", order=50, sets=("power",),
    search_space=SEARCH_SPACE))
class ContrastiveLoss(JointMappingMethod):
    """Contrastive-Loss: same-image pairs closer than other-image pairs in the joint pairwise space.

    For each row (image n, pair s ∈ U_n, t ∈ T_n) with anchor :math:`a = m^{t\\to st}(y^t_n)`:

    .. math::
        \\ell_n = \\sum_{s,t} \\frac{1}{B-1} \\sum_{j \\ne n}
            \\max\\big(0,\\ \\mu + d(a, m^{s\\to st}(\\hat y^s_n)) - d(a, m^{s\\to st}(\\hat y^s_j))\\big),
        \\qquad \\mathcal L = \\mathcal L_{\\text{Eq.1}} + \\lambda \\tfrac1B \\sum_n \\ell_n

    with :math:`d` the mean cosine distance. The mapping is the paper's conditional joint mapping
    (FiLM, own optimiser as in ``xtc``), without the regulariser: the negatives already forbid
    the trivial constant mapping. Choices the paper leaves open: margin :math:`\\mu = 0.5` (half
    the range of the cosine distance, so the loss is active until negatives are clearly farther
    than positives), negatives = the other images of the batch (their predictions of s mapped
    for the same pair), :math:`\\lambda = 2` as for ``xtc``, second view as for ``xtc``.
    """

    @dataclass(frozen=True)
    class Options(JointMappingMethod.Options):
        #: μ, the margin of the hinge
        margin: float = 0.5

    def __init__(self, tasks: Sequence[Task], **kwargs: Any) -> None:
        super().__init__(tasks, **kwargs)
        self.margin = float(self.options.margin)

    def extra_losses(self, views: TrainingViews) -> dict[str, torch.Tensor]:
        n, s, t, m = self.consistency_rows(views.mask)
        if n.numel() == 0:
            return {}
        b = views.batch_size
        v = views.second
        labels = self.target_labels(v, views.mask).labels
        target, sources, pair_of_row = map_with_negatives(self.mapping, self.tasks, v.preds,
                                                          labels, n, s, t, b, m)
        rows = margin_row_losses(target, sources, pair_of_row, n, self.margin)
        return {"loss_contrastive": self.con_weight * self.reduce_rows(rows, n, s, b),
                **negatives_probe(target, sources, pair_of_row, n)}


register_method_variant("contrastive-shuffled", ContrastiveLoss, MethodInfo(
    summary="Negative control of Contrastive-Loss: each anchor label comes from another image",
    display="Contrastive-Loss (shuffled pairs)", short="Contrastive shuffled",
    family="contrastive", colour="#D9B3CC", order=51, in_all=False, sets=("controls",),
    control_of="contrastive", search_space=SEARCH_SPACE), shuffle_targets=True)
