"""Statements about how the shown runs were set up that a table's caption must carry.

For now: how the encoder was initialised, for runs whose config has ``model.pretrained`` (the
ResNet backbones). The paper's PASCAL-Context encoder is ImageNet-pretrained; runs without local
ImageNet weights are not comparable with it, and their tables say so.
"""

from __future__ import annotations

from collections.abc import Iterable

from bench.records.record import Record


def encoder_statements(records: Iterable[Record], run_ids: set[str]) -> list[str]:
    """One sentence per encoder initialisation among the records ``run_ids`` (empty if none
    of them has ``model.pretrained``)."""
    random_init, weights = 0, set()
    for r in records:
        model = r.config.get("model") or {}
        if r.run_id not in run_ids or "pretrained" not in model:
            continue
        if model["pretrained"]:
            weights.add(str(model["pretrained"]))
        else:
            random_init += 1
    out = []
    if random_init:
        out.append(f"Encoder randomly initialised in {random_init} run(s) (no model.pretrained; "
                   "the paper's encoder is ImageNet-pretrained).")
    if weights:
        out.append("Encoder initialised from ImageNet weights: " + ", ".join(sorted(weights))
                   + ".")
    return out
