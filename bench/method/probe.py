"""The collapse probe of a cross-task method: does its mapping still depend on its input?

A consistency term can be minimised by a mapping whose output no longer depends on its input
(a constant map makes every pair consistent): the paper names such trivial mappings as the main
risk. The probe measures, without gradient and on the pairs a step already mapped, whether a
row's own pair is closer than the pairs it makes with the other images' sides:

* ``probe_own``: the mean distance of each row's two sides (what the term minimises);
* ``probe_rolled``: the mean distance of each row's source to the targets of the other images
  of the same task pair;
* ``probe_advantage`` = rolled − own for the step (and its square, ``probe_advantage_sq``, so
  that its spread over an epoch's steps is known): 0 for a collapsed mapping, > 0 for one that
  still tells images apart;
* ``probe_retrieval``: how often a row's own target is the nearest of them, against
  ``probe_chance`` (1 over the candidates: 1/B when every image of the batch is one).

:func:`bench.records.collapse.collapse_reason` turns an epoch's values into the ``collapsed``
status. The joint-mapping methods measure distances in their joint space
(:func:`joint_probe`, :func:`negatives_probe`); the pairwise ones the task loss of a mapped
prediction against its own label and against other images' labels (:func:`pairwise_probe`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from bench.records.collapse import ADVANTAGE, ADVANTAGE_SQ, CHANCE, OWN, RETRIEVAL, ROLLED
from bench.tasks import Task

__all__ = ["ADVANTAGE", "ADVANTAGE_SQ", "CHANCE", "OWN", "RETRIEVAL", "ROLLED", "joint_probe",
           "merge_probes", "negatives_probe", "pairwise_probe"]


def _summary(own: torch.Tensor, rolled: torch.Tensor, hits: torch.Tensor | None = None,
             chance: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """The step's probe values from per-row own and rolled distances (and retrieval hits)."""
    if own.numel() == 0:
        return {}
    advantage = (rolled - own).mean()
    out = {OWN: own.mean(), ROLLED: rolled.mean(), ADVANTAGE: advantage,
           ADVANTAGE_SQ: advantage * advantage}
    if hits is not None and chance is not None:
        out[RETRIEVAL] = hits.float().mean()
        out[CHANCE] = chance.float().mean()
    return {k: v.detach() for k, v in out.items()}


@torch.no_grad()
def joint_probe(source: torch.Tensor, target: torch.Tensor, pair: torch.Tensor,
                image: torch.Tensor) -> dict[str, torch.Tensor]:
    """The probe of rows mapped to a joint space: ``source[r]`` and ``target[r]`` ``[R, C, h, w]``
    are row r's two sides, ``pair[r]`` its task pair, ``image[r]`` its image. The candidates of a
    row are the rows of its pair (a pair with one image says nothing and is left out); distances
    are the mean cosine distances of the term."""
    unit_s = F.normalize(source.float(), dim=1, eps=1e-12).flatten(1)
    unit_t = F.normalize(target.float(), dim=1, eps=1e-12).flatten(1)
    pixels = source[0, 0].numel()
    own, rolled, hits, chance = [], [], [], []
    for p in torch.unique(pair):
        rows = (pair == p).nonzero().squeeze(1)
        if rows.numel() < 2 or torch.unique(image[rows]).numel() < 2:
            continue
        d = 1.0 - unit_s[rows] @ unit_t[rows].T / pixels  # [r, r]: source i vs target j
        other = image[rows][None, :] != image[rows][:, None]
        keep = other.any(1)
        own.append(d.diagonal()[keep])
        rolled.append(((d * other).sum(1) / other.sum(1).clamp_min(1))[keep])
        hits.append((d.argmin(1) == torch.arange(len(rows), device=d.device))[keep])
        chance.append(torch.full((int(keep.sum()),), 1.0 / len(rows), device=d.device))
    if not own:
        return {}
    return _summary(torch.cat(own), torch.cat(rolled), torch.cat(hits), torch.cat(chance))


@torch.no_grad()
def negatives_probe(target: torch.Tensor, sources: torch.Tensor, pair_of_row: torch.Tensor,
                    image: torch.Tensor) -> dict[str, torch.Tensor]:
    """The probe of rows whose target ``target[r]`` is compared with the mapped sources of every
    image of the batch (``sources[pair_of_row[r], j]``, Contrastive- and Discriminator-Loss):
    own = the row's image, rolled = the other images; chance 1/B."""
    b = sources.shape[1]
    if b < 2 or target.numel() == 0:
        return {}
    unit_t = F.normalize(target.float(), dim=1, eps=1e-12).flatten(1)
    unit_s = F.normalize(sources.float().flatten(0, 1), dim=1, eps=1e-12)
    unit_s = unit_s.view(sources.shape[0], b, -1)
    pixels = target[0, 0].numel()
    d = 1.0 - torch.einsum("rc,rbc->rb", unit_t, unit_s[pair_of_row]) / pixels  # [R, B]
    own = d.gather(1, image[:, None]).squeeze(1)
    others = torch.ones_like(d, dtype=torch.bool).scatter_(1, image[:, None], False)
    rolled = (d * others).sum(1) / (b - 1)
    hits = d.argmin(1) == image
    return _summary(own, rolled, hits, torch.full_like(own, 1.0 / b))


@torch.no_grad()
def pairwise_probe(task: Task, mapped: torch.Tensor, labels: torch.Tensor, target: torch.Tensor,
                   image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row of one pair network: task t's loss of the mapped prediction against its own
    target label and against the next row's (another image's); rows whose neighbour is the
    same image are left out. Returns ``(own, rolled)`` for :func:`merge_probes`."""
    if mapped.shape[0] < 2:
        return mapped.new_zeros(0), mapped.new_zeros(0)
    shift = torch.roll(torch.arange(len(target), device=target.device), 1)
    other = image[shift] != image
    own = task.per_image_loss(mapped, labels[target])
    rolled = task.per_image_loss(mapped, labels[target[shift]])
    return own[other].float(), rolled[other].float()


def merge_probes(parts: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """One step's probe values from the ``(own, rolled)`` rows of its pair networks."""
    if not parts:
        return {}
    return _summary(torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts]))
