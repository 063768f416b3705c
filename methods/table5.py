"""The paper's Table 5 (NYUv2, full labels) as a named set of rows: ``--methods table5``.

MTL and STL, the loss weightings on the MTL network (Uncertainty, GradNorm, MGDA, DWA), MTAN,
X-task, and the cross-task method alone and with Uncertainty, in the paper's order. Run it with
``bench run --methods table5 --dataset nyuv2 --regimes full``; ``bench table --dataset nyuv2
--regimes full --paper`` puts the published numbers beside each row.
"""

from __future__ import annotations

from bench.registry import register_method_set

TABLE5 = ["stl", "sl", "mtan", "xtask", "sl+uncertainty", "sl+gradnorm", "sl+mgda", "sl+dwa",
          "xtc", "xtc+uncertainty"]

register_method_set("table5", TABLE5)
