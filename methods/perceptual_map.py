"""Perceptual-Map: compare a task's prediction and label after mapping both into another task."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from bench.registry import METHODS
from bench.tasks import Task
from methods.crosstask import CrossTaskMethod
from methods.pairwise_maps import PairwiseMaps


@METHODS.register_module(name="perceptual_map")
class PerceptualMap(CrossTaskMethod):
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

    family = "perceptual_map"
    display_order = 30

    def __init__(self, tasks: Sequence[Task], width: float = 1.0, weighting: str = "uniform",
                 con_weight: float = 2.0) -> None:
        super().__init__(tasks, width=width, weighting=weighting, con_weight=con_weight)
        self.maps = PairwiseMaps(self.tasks, width)

    def extra_losses(self, image, preds, labels, mask, image2, preds2, labels2, feature2):
        b = mask.shape[0]
        fit = preds2[self.tasks[0].name].new_zeros(())
        perceptual = fit.clone()
        for i, j, s, t in self.maps.pairs():
            rows = mask[:, j].nonzero().squeeze(1)
            if rows.numel():
                mapped = self.maps.forward_pair(s, t, s.encode_prediction(preds2[s.name][rows].detach()))
                fit = fit + t.per_image_loss(mapped, labels2[t.name][rows]).sum()
            rows = mask[:, i].nonzero().squeeze(1)
            if rows.numel():
                # prediction and label of s through the frozen mapping, in one call
                r = rows.numel()
                both = torch.cat([s.encode_prediction(preds2[s.name][rows]),
                                  s.encode_label(labels2[s.name][rows])])
                out = self.maps.forward_pair(s, t, both, self.maps.frozen(s, t))
                mapped, target = out[:r], out[r:].detach()
                perceptual = perceptual + t.prediction_distance(mapped, target).flatten(1).mean(1).sum()
        return {"loss_map_fit": fit / b, "loss_perceptual": self.con_weight * perceptual / b}
