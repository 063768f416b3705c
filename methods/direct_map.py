"""Direct-Map: per-pair mappings from one task's prediction to another task's label."""

from __future__ import annotations

import torch

from bench.metadata import MethodInfo
from bench.method.base import TrainingViews
from bench.method.crosstask import CONSISTENCY_SPACE, PairwiseMappingMethod
from bench.method.probe import merge_probes, pairwise_probe
from bench.registry import register_method, register_method_variant

SEARCH_SPACE = CONSISTENCY_SPACE


@register_method("direct_map", MethodInfo(
    summary="", display="Direct-Map", short="Direct-Map", paper_name="Direct-Map",
    family="direct_map", colour="#009E73", order=40, sets=("power",),
    search_space=SEARCH_SPACE))
class DirectMap(PairwiseMappingMethod):
    """Direct-Map: map the unlabelled task's prediction into the labelled task's space and supervise it there.

    For every ordered pair (s, t) and image n with s unlabelled and t labelled:

    .. math::
        \\ell_n = \\rho_n \\sum_{(s,t)} L^t\\big(m^{s\\to t}(\\hat y^s(x_n)),\\ y^t_n\\big), \\qquad
        \\mathcal L = \\mathcal L_{\\text{Eq.1}} + \\lambda \\tfrac1B \\sum_n \\ell_n

    with :math:`L^t` task t's supervised loss and :math:`\\rho_n = 1` (``official`` loss
    reduction) or :math:`1/|\\mathcal U_n|` (``paper``, see
    :func:`~bench.method.crosstask.reduce_rows`). Mapping and network learn jointly from this term (the
    paper: "learning mappings from prediction of one task to another task's groundtruth").
    K(K−1) SegNet mappings (:class:`~bench.nets.pairwise.PairwiseMaps`); each runs once per
    step on all rows of its pair. Choices the paper leaves open: :math:`\\lambda = 2` (as ``xtc``),
    the second view and prediction encodings of ``xtc``, mappings at the main network's width.
    """

    def extra_losses(self, views: TrainingViews) -> dict[str, torch.Tensor]:
        mask, b = views.mask, views.batch_size
        preds2 = views.second.preds
        labels2 = self.target_labels(views.second, mask).labels
        values, images, sources, probes = [], [], [], []
        for i, j, s, t in self.maps.pairs():
            rows = (~mask[:, i] & mask[:, j]).nonzero().squeeze(1)
            keep, target = self.target_images(rows, j, mask)
            rows, target = rows[keep], target[keep]
            if rows.numel() == 0:
                continue
            mapped = self.maps.forward_pair(s, t, s.encode_prediction(preds2[s.name][rows]))
            values.append(t.per_image_loss(mapped, labels2[t.name][target]))
            images.append(rows)
            sources.append(torch.full_like(rows, i))
            probes.append(pairwise_probe(t, mapped, labels2[t.name], target, rows))
        if not values:
            return {}
        total = self.reduce_rows(torch.cat(values), torch.cat(images), torch.cat(sources), b)
        return {"loss_direct": self.con_weight * total, **merge_probes(probes)}


register_method_variant("direct_map-shuffled", DirectMap, MethodInfo(
    summary="Negative control of Direct-Map: each mapped prediction is supervised with another "
            "image's label",
    display="Direct-Map (shuffled pairs)", short="Direct-Map shuffled", family="direct_map",
    colour="#99D8C9", order=41, in_all=False, sets=("controls",), control_of="direct_map",
    search_space=SEARCH_SPACE),
    shuffle_targets=True)
