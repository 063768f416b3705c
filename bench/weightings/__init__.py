"""Task weightings: the run's ``--weighting`` axis, orthogonal to the method.

One module per weighting, each registered by name with
:func:`bench.registry.register_weighting` (its class docstring states the equation it implements):

==============  ==================================================================================
``equal``       Eq. 1, every labelled task with weight 1 (:mod:`.equal`)
``uncertainty`` Kendall et al. 2018, learned log-variances (:mod:`.uncertainty`)
``dwa``         Dynamic Weight Average, Liu et al. 2019, T = 2 (:mod:`.dwa`)
``gradnorm``    Chen et al. 2018, α = 1.5 (:mod:`.gradnorm`)
``mgda`` …      torchjd's MGDA, PCGrad, CAGrad, Nash-MTL, IMTL-G, Aligned-MTL, UPGrad on the
                shared parameters' per-task gradients (:mod:`.aggregators`)
==============  ==================================================================================

The registry (:data:`bench.registry.WEIGHTINGS`) imports every module of the package on its
first lookup, so a new weighting is one new file.
"""

from __future__ import annotations

from bench.weightings.base import DEFAULT, Weighting, WeightingSpec, build_weighting, parse_spec
from bench.weightings.losses import REDUCTIONS, TaskLosses, loss_matrix, reduce_tasks

__all__ = ["DEFAULT", "REDUCTIONS", "TaskLosses", "Weighting", "WeightingSpec",
           "build_weighting", "loss_matrix", "parse_spec", "reduce_tasks"]
