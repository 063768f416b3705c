"""Display names used by tables and figures: methods, regimes, tasks, datasets, directions.

Registered names (``sl``, ``onelabel``) stay the keys everywhere; these functions only decide how
they are printed. The paper's "Ours" is called XTC (cross-task consistency) here, since the harness
user is not its author. Paper-facing outputs (LaTeX, Markdown, figures) use the paper's names
("Supervised Learning", "one"); terminal and CSV outputs keep the names one types on the command
line.
"""

from __future__ import annotations

from fractions import Fraction

METHOD_DISPLAY = {
    "stl": "STL",
    "sl": "Supervised Learning",
    "ssl": "Semi-supervised Learning",
    "direct_map": "Direct-Map",
    "perceptual_map": "Perceptual-Map",
    "contrastive": "Contrastive-Loss",
    "discriminator": "Discriminator-Loss",
    "xtc": "Cross-task (XTC)",
    "xtc-nocond": "XTC (w/o cond)",
    "xtc-noreg": "XTC (w/o reg)",
    "xtc-uncertainty": "XTC + Uncertainty",
}

# short forms for figure legends, where the long paper names do not fit a column
METHOD_SHORT = {
    "stl": "STL", "sl": "SL", "ssl": "SSL", "direct_map": "Direct-Map",
    "perceptual_map": "Perceptual-Map", "contrastive": "Contrastive", "discriminator": "Discrim.",
    "xtc": "XTC", "xtc-nocond": "XTC w/o cond", "xtc-noreg": "XTC w/o reg",
    "xtc-uncertainty": "XTC + Unc.",
}

REGIME_DISPLAY = {"full": "full", "randomlabels": "random", "onelabel": "one"}
REGIME_MEANING = {
    "full": "every image has every task label",
    "randomlabels": "each image has a random number of task labels",
    "onelabel": "each image has one task label",
}

TASK_DISPLAY = {"semantic": "Segmentation", "depth": "Depth", "normal": "Surface Normal"}
TASK_SHORT = {"semantic": "Seg.", "depth": "Depth", "normal": "Norm."}

DATASET_DISPLAY = {
    "nyuv2": "NYUv2", "cityscapes": "Cityscapes", "pascal_context": "PASCAL-Context",
    "synthetic-nyuv2": "synthetic NYUv2", "synthetic-cityscapes": "synthetic Cityscapes",
}

UNITS = {"semantic/mIoU": "%", "semantic/pixAcc": "%", "normal/mean": "°", "normal/median": "°",
         "normal/within11.25": "%", "normal/within22.5": "%", "normal/within30": "%"}


def method_display(name: str) -> str:
    """The paper's name of a method (``sl`` → "Supervised Learning"); unknown names unchanged."""
    return METHOD_DISPLAY.get(name, name)


def method_short(name: str) -> str:
    return METHOD_SHORT.get(name, METHOD_DISPLAY.get(name, name))


def regime_ratios(regime: str) -> tuple[float, ...] | None:
    """``ratio:1:9`` → ``(1.0, 9.0)``; None for other regimes or malformed ratios."""
    if not regime.startswith("ratio:"):
        return None
    try:
        return tuple(float(p) for p in regime.split(":")[1:])
    except ValueError:
        return None


def first_task_fraction(regime: str) -> float | None:
    """Fraction of the training images labelled for the first task in a ``ratio:a:b…`` regime.

    ``a / (a + b + …)``: ``ratio:1:9`` → 0.1. None for other regimes.
    """
    ratios = regime_ratios(regime)
    if not ratios or sum(ratios) <= 0:
        return None
    return ratios[0] / sum(ratios)


def regime_display(regime: str) -> str:
    """The paper's label of a regime: ``full``, ``random``, ``one``, ``1:9``."""
    if regime in REGIME_DISPLAY:
        return REGIME_DISPLAY[regime]
    ratios = regime_ratios(regime)
    if ratios:
        return ":".join(str(Fraction(r).limit_denominator(1000)) for r in ratios)
    return regime


def regime_meaning(regime: str, tasks: list[str]) -> str:
    """One phrase saying what a regime means, for captions and footers."""
    if regime in REGIME_MEANING:
        return REGIME_MEANING[regime]
    ratios = regime_ratios(regime)
    if ratios and sum(ratios) > 0 and len(ratios) == len(tasks):
        parts = [f"{r / sum(ratios) * 100:.0f}% of the images labelled for {t} only"
                 for r, t in zip(ratios, tasks, strict=True)]
        return ", ".join(parts)
    return regime


def task_display(task: str) -> str:
    return TASK_DISPLAY.get(task, task)


def task_short(task: str) -> str:
    return TASK_SHORT.get(task, task)


def dataset_display(name: str) -> str:
    return DATASET_DISPLAY.get(name, name)


def arrow(higher_is_better: bool) -> str:
    """``↑`` when higher is better, ``↓`` when lower is better."""
    return "↑" if higher_is_better else "↓"


def unit(column: str) -> str:
    """Unit of a metric column for axis labels (``%``, ``°``, or empty: the dataset's unit)."""
    return UNITS.get(column, "")
