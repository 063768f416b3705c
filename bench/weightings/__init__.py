"""Task weightings: the run's ``--weighting`` axis, orthogonal to the method.

One module per weighting, each registered by name with :func:`register_weighting` (its class
docstring states the equation it implements):

==============  ==================================================================================
``equal``       Eq. 1, every labelled task with weight 1 (:mod:`.equal`)
``uncertainty`` Kendall et al. 2018, learned log-variances (:mod:`.uncertainty`)
``dwa``         Dynamic Weight Average, Liu et al. 2019, T = 2 (:mod:`.dwa`)
``gradnorm``    Chen et al. 2018, α = 1.5 (:mod:`.gradnorm`)
``mgda`` …      torchjd's MGDA, PCGrad, CAGrad, Nash-MTL, IMTL-G, Aligned-MTL, UPGrad on the
                shared parameters' per-task gradients (:mod:`.aggregators`)
==============  ==================================================================================

Importing the package imports every module in it, so a new weighting is one new file.
"""

from __future__ import annotations

import importlib
import pkgutil

from bench.weightings.base import (
    DEFAULT,
    Weighting,
    WeightingSpec,
    add_weighting,
    build_weighting,
    parse_spec,
    register_weighting,
    weighting_class,
    weighting_defaults,
    weighting_fixed_options,
    weighting_info,
    weighting_names,
)
from bench.weightings.losses import REDUCTIONS, TaskLosses, loss_matrix, reduce_tasks

__all__ = ["DEFAULT", "REDUCTIONS", "TaskLosses", "Weighting", "WeightingSpec", "add_weighting",
           "build_weighting", "loss_matrix", "parse_spec", "reduce_tasks", "register_weighting",
           "weighting_class", "weighting_defaults", "weighting_fixed_options", "weighting_info",
           "weighting_names"]

_INFRASTRUCTURE = {"base", "losses", "shared"}
for _module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _module.name not in _INFRASTRUCTURE and not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")
