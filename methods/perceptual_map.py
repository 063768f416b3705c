"""Perceptual-Map: compare a task's prediction and label after mapping both into another task."""

from __future__ import annotations

import torch

from bench.metadata import MethodInfo
from bench.method.base import TrainingViews
from bench.method.crosstask import CONSISTENCY_SPACE, PairwiseMappingMethod
from bench.method.probe import merge_probes, pairwise_probe
from bench.registry import register_method, register_method_variant

SEARCH_SPACE = CONSISTENCY_SPACE


@register_method("perceptual_map", MethodInfo(
    summary="", display="Perceptual-Map", short="Perceptual-Map", paper_name="Perceptual-Map",
    family="perceptual_map", colour="#E69F00", order=30, sets=("power",),
    search_space=SEARCH_SPACE))
class PerceptualMap(PairwiseMappingMethod):
    """Perceptual-Map: perceptual loss through per-pair mappings trained on the available labels.

    Two terms per ordered pair (s, t), each on the rows where it is defined:

    * mapping training (updates :math:`m^{s\\to t}` only; the prediction enters detached), on images
      where t is labelled: :math:`L^t(m^{s\\to t}(\\mathrm{sg}[\\hat y^s]), y^t)` — the paper
      learns the mappings "from prediction of one task to another task's groundtruth", since
      images with both labels are few or none;
    * perceptual term (updates the network only; the mapping enters as a constant), on images
      where s is labelled:
      :math:`D^t\\big(m^{s\\to t}(\\hat y^s),\\ \\mathrm{sg}[m^{s\\to t}(y^s)]\\big)`,
      :math:`D^t` task t's distance between predictions (soft cross-entropy, L1, 1 − cos).

    .. math::
        \\mathcal L = \\mathcal L_{\\text{Eq.1}} + \\tfrac1B \\sum_{(s,t)}
        \\Big[\\sum_{n:\\,t\\in\\mathcal T_n}
        L^t(\\cdot) + \\lambda \\sum_{n:\\,s\\in\\mathcal T_n} D^t(\\cdot)\\Big]

    Choices the paper leaves open: which parameters each term trains (above; the perceptual loss of
    Zamir et al. uses fixed mappings), :math:`\\lambda = 2`, the second view, prediction encodings
    and width of ``direct_map``.
    """

    def extra_losses(self, views: TrainingViews) -> dict[str, torch.Tensor]:
        mask, b = views.mask, views.batch_size
        preds2 = views.second.preds
        labels2 = self.target_labels(views.second, mask).labels
        probes = []
        fit: tuple[list[torch.Tensor], ...] = ([], [], [])  # values, images, sources
        perceptual: tuple[list[torch.Tensor], ...] = ([], [], [])
        for i, j, s, t in self.maps.pairs():
            rows = mask[:, j].nonzero().squeeze(1)
            keep, target = self.target_images(rows, j, mask)
            rows, target = rows[keep], target[keep]
            if rows.numel():
                x = s.encode_prediction(preds2[s.name][rows].detach())
                mapped = self.maps.forward_pair(s, t, x)
                _add(fit, t.per_image_loss(mapped, labels2[t.name][target]), rows, i)
                probes.append(pairwise_probe(t, mapped, labels2[t.name], target, rows))
            rows = mask[:, i].nonzero().squeeze(1)
            keep, target = self.target_images(rows, i, mask)
            rows, target = rows[keep], target[keep]
            if rows.numel():
                # prediction and label of s through the frozen mapping, in one call
                r = rows.numel()
                both = torch.cat([s.encode_prediction(preds2[s.name][rows]),
                                  s.encode_label(labels2[s.name][target])])
                out = self.maps.forward_pair(s, t, both, self.maps.frozen(s, t))
                mapped, target = out[:r], out[r:].detach()
                _add(perceptual, t.prediction_distance(mapped, target).flatten(1).mean(1), rows, i)
        zero = preds2[self.tasks[0].name].new_zeros(())
        return {"loss_map_fit": self._reduce(fit, b, zero),
                "loss_perceptual": self.con_weight * self._reduce(perceptual, b, zero),
                **merge_probes(probes)}

    def _reduce(self, rows: tuple[list[torch.Tensor], ...], b: int,
                zero: torch.Tensor) -> torch.Tensor:
        if not rows[0]:
            return zero
        return self.reduce_rows(*(torch.cat(x) for x in rows), b)


def _add(rows: tuple[list[torch.Tensor], ...], values: torch.Tensor, images: torch.Tensor,
         source: int) -> None:
    rows[0].append(values)
    rows[1].append(images)
    rows[2].append(torch.full_like(images, source))


register_method_variant("perceptual_map-shuffled", PerceptualMap, MethodInfo(
    summary="Negative control of Perceptual-Map: labels paired with another image's prediction",
    display="Perceptual-Map (shuffled pairs)", short="Perceptual-Map shuffled",
    family="perceptual_map", colour="#F5D28E", order=31, in_all=False, sets=("controls",),
    control_of="perceptual_map", search_space=SEARCH_SPACE), shuffle_targets=True)
