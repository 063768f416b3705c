"""The paper's published numbers (Li, Liu, Bilen, CVPR 2022, Tables 1–6) in the harness's names.

The figures ship with the package in ``bench/report/paper/mtpsl_cvpr2022.csv`` (source and units
in its header). This module maps the paper's method, regime and metric names onto registered
method names, canonical regime strings and record metric columns, so that a table can put the
published value beside the measured one. Methods of the paper that the harness does not
implement (MTAN, GradNorm, …) are left out. When a number appears in several tables (the
SL / Ours rows of Table 2 repeat in Table 6) they agree and the lowest table number is kept.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

PAPER_CSV = Path(__file__).parent / "paper" / "mtpsl_cvpr2022.csv"
CITATION = "Li, Liu, Bilen, CVPR 2022"

METHODS = {
    "STL": "stl", "SL": "sl", "SSL": "ssl", "Direct-Map": "direct_map",
    "Perceptual-Map": "perceptual_map", "Contrastive-Loss": "contrastive",
    "Discriminator-Loss": "discriminator", "Ours": "xtc", "Ours-w/o-cond": "xtc-nocond",
    "Ours-w/o-reg": "xtc-noreg", "Ours+Uncertainty": "xtc-uncertainty",
}
METRICS = {
    "seg_miou": "semantic/mIoU", "depth_abs_err": "depth/absErr",
    "normal_mean_err": "normal/mean",
    "semseg_miou": "semseg/mIoU", "human_parts_miou": "human_parts/mIoU",
    "normals_mean_err": "normals/mean", "sal_miou": "saliency/mIoU", "edge_odsf": "edge/odsF",
}


def regime_name(paper_regime: str) -> str:
    """``ratio_1_9`` → ``ratio:1:9``; other names are already the harness's."""
    if paper_regime.startswith("ratio_"):
        return "ratio:" + ":".join(paper_regime.split("_")[1:])
    return paper_regime


@lru_cache(maxsize=1)
def published() -> pd.DataFrame:
    """Every mappable published number: columns dataset, regime, method, column, value, table."""
    raw = pd.read_csv(PAPER_CSV, comment="#")
    raw = raw[raw["method"].isin(METHODS) & raw["metric"].isin(METRICS)]
    out = pd.DataFrame({
        "dataset": raw["dataset"].astype(str),
        "regime": raw["regime"].astype(str).map(regime_name),
        "method": raw["method"].astype(str).map(METHODS),
        "column": raw["metric"].astype(str).map(METRICS),
        "value": raw["value"].astype(float),
        "table": raw["table"].astype(int),
    })
    out = out.sort_values("table").drop_duplicates(["dataset", "regime", "method", "column"])
    return out.reset_index(drop=True)


def paper_datasets() -> list[str]:
    return sorted(published()["dataset"].unique())


def paper_values(dataset: str) -> dict[tuple[str, str, str], tuple[float, int]]:
    """``(regime, method, column) → (value, table)`` for one dataset (empty if none)."""
    rows = published()
    rows = rows[rows["dataset"] == dataset]
    return {(r.regime, r.method, r.column): (float(r.value), int(r.table))
            for r in rows.itertuples()}
