"""The paper's published numbers (Li, Liu, Bilen, CVPR 2022, Tables 1–6) in the harness's names.

The figures ship with the package in ``bench/report/paper/mtpsl_cvpr2022.csv`` (source and units
in its header); the rows of later papers on the same benchmarks (JTR: Nishi et al., CVPR 2024)
in their own CSVs of the same columns (:data:`PAPER_SOURCES`), each number with its citation.
This module maps the paper's regime and metric names onto canonical regime strings and record
metric columns, and its method names onto the table rows whose metadata names
them, so that a table can put the published value beside the measured one. A row is a method
with its task weighting, and both must match: "Ours" is ``xtc`` with equal weights,
"Ours+Uncertainty" ``xtc+uncertainty``, "Uncertainty" (Table 5: the plain MTL network)
``sl+uncertainty`` (:func:`bench.report.names.weighted_info`). Rows of methods no record names
are left out. When a number appears in several tables (the SL / Ours rows of Table 2 repeat in
Table 6) they agree and the lowest table number is kept.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

PAPER_CSV = Path(__file__).parent / "paper" / "mtpsl_cvpr2022.csv"
CITATION = "Li, Liu, Bilen, CVPR 2022"
JTR_CSV = Path(__file__).parent / "paper" / "jtr_cvpr2024.csv"
JTR_CITATION = "Nishi, Kim, Li, Pfister, CVPR 2024"
#: every CSV of published numbers and the paper it transcribes (the first is the harness's paper)
PAPER_SOURCES: dict[Path, str] = {PAPER_CSV: CITATION, JTR_CSV: JTR_CITATION}

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
    """Every published number with a known metric: columns dataset, regime, method (the paper's
    name), column, value, table, citation (the paper whose table it is)."""
    raw = pd.concat([pd.read_csv(path, comment="#").assign(citation=citation)
                     for path, citation in PAPER_SOURCES.items()], ignore_index=True)
    raw = raw[raw["metric"].isin(METRICS)]
    out = pd.DataFrame({
        "dataset": raw["dataset"].astype(str),
        "regime": raw["regime"].astype(str).map(regime_name),
        "method": raw["method"].astype(str),
        "column": raw["metric"].astype(str).map(METRICS),
        "value": raw["value"].astype(float),
        "table": raw["table"].astype(int),
        "citation": raw["citation"].astype(str),
    })
    out = out.sort_values("table").drop_duplicates(["dataset", "regime", "method", "column"])
    return out.reset_index(drop=True)


def paper_datasets() -> list[str]:
    return sorted(published()["dataset"].unique())


def paper_values(dataset: str, methods: dict[str, str]
                 ) -> dict[tuple[str, str, str], tuple[float, int, str]]:
    """``(regime, method, column) → (value, table, citation)`` for one dataset (empty if none).

    ``methods`` maps the paper's method names to registered ones (:meth:`Names.paper_methods`).
    """
    rows = published()
    rows = rows[(rows["dataset"] == dataset) & rows["method"].isin(methods)]
    out: dict[tuple[str, str, str], tuple[float, int, str]] = {}
    for r in rows.sort_values("table").itertuples():  # a row named twice: the lowest table
        out.setdefault((r.regime, methods[r.method], r.column),
                       (float(r.value), int(r.table), str(r.citation)))
    return out
