"""The ``collapsed`` status: a run whose mapping stopped depending on its input.

From the collapse probe the method logs each step (:mod:`bench.method.probe`, under the keys
named here), over the last
training epoch: the mean own-pair advantage :math:`\\bar a` (how much closer a row's own pair is
than its pairs with other images) and its standard error over the epoch's steps,
:math:`SE = \\sqrt{(\\overline{a^2} - \\bar a^2)/(n - 1)}`. A run whose advantage is not above
twice its standard error (:math:`\\bar a \\le 2\\,SE`, about p ≥ 0.02 one-sided) has a mapping
whose output no longer tells its input apart: its consistency term says nothing of the task
relation, so the run is recorded as ``collapsed`` (with these numbers as its reason) and is never
scored as a normal row. A negative control (``control_of``) logs the probe but keeps its status:
its pairs carry no relation by construction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: the probe's keys in a record's training history (:mod:`bench.method.probe` logs them)
OWN, ROLLED, ADVANTAGE, ADVANTAGE_SQ = ("probe_own", "probe_rolled", "probe_advantage",
                                        "probe_advantage_sq")
RETRIEVAL, CHANCE = "probe_retrieval", "probe_chance"

#: the own-pair advantage must exceed this many standard errors
NOISE_SE = 2.0


def last_probe(history: Sequence[dict[str, Any]]) -> dict[str, float] | None:
    """The probe values of the last epoch that logged them (with ``n``, their step count)."""
    for entry in reversed(history):
        train = entry.get("train") or {}
        if ADVANTAGE in train and ADVANTAGE_SQ in train:
            out = {k: float(train[k]) for k in (OWN, ROLLED, ADVANTAGE, ADVANTAGE_SQ,
                                                RETRIEVAL, CHANCE) if k in train}
            out["n"] = float((entry.get("train_n") or {}).get(ADVANTAGE, 0))
            out["epoch"] = float(entry.get("epoch", 0))
            return out
    return None


def collapse_reason(history: Sequence[dict[str, Any]]) -> str:
    """Why the run's mapping collapsed ('' when it did not, or logged no probe)."""
    probe = last_probe(history)
    if probe is None or probe["n"] < 2:
        return ""
    a, n = probe[ADVANTAGE], probe["n"]
    se = math.sqrt(max(probe[ADVANTAGE_SQ] - a * a, 0.0) / (n - 1))
    if a > NOISE_SE * se:
        return ""
    return (f"collapsed mapping: in epoch {int(probe['epoch'])} its own pairs were no closer "
            f"than its pairs with other images (advantage {a:.3g} ± {se:.2g} SE over {int(n)} "
            f"steps, own {probe.get(OWN, float('nan')):.3g}, rolled "
            f"{probe.get(ROLLED, float('nan')):.3g}): its output no longer depends on its input")
