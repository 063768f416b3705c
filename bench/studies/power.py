"""The grid of the power study (``bench power``): the controls, the methods, their controls.

SL with full labels and with each partial regime (the positive control), every chosen method on
each partial regime and its negative control (``MethodInfo.control_of``) under the same
weighting, over ≥ 5 seeds by default. With ``--weighting``, SL with each weighting too. The
statistics are computed from the records (:mod:`bench.report.power`).
"""

from __future__ import annotations

from bench.config.rows import cross_weightings, parse_weightings
from bench.config.runspec import RunSpec
from bench.errors import BenchError
from bench.grid.request import Selection
from bench.registry import method_info, method_names
from bench.report.power import control_row

#: seeds of a power study when ``--seeds`` is not given
DEFAULT_SEEDS = "0,1,2,3,4"


def study_methods(selection: Selection) -> list[str]:
    """The rows the study compares with SL and their controls: the selected methods but SL and
    STL, and, with ``--weighting``, SL with each weighting other than equal."""
    methods = [m for m in selection.rows if m not in ("sl", "stl")]
    weightings = parse_weightings(selection.request.weighting)
    if weightings:
        methods += [r for r in cross_weightings(["sl"], weightings)[0] if r != "sl"]
    return list(dict.fromkeys(methods))


def study_regimes(selection: Selection) -> list[str]:
    """The partial-label regimes of the study: ``--regimes``, else the dataset's first."""
    return list(selection.regimes or selection.dataset.default_regimes[:1])


def power_specs(selection: Selection) -> list[RunSpec]:
    """The RunSpecs of the study (see the module docstring)."""
    if len(selection.seeds) < 2:
        raise BenchError("A power study needs at least two seeds (five by default).")
    regimes = study_regimes(selection)
    methods = study_methods(selection)
    controls = {method_info(n).control_of: n for n in method_names()
                if method_info(n).control_of}
    run = [*methods, *(c for m in methods if (c := control_row(m, controls)) is not None)]
    specs = selection.specs(["sl"], ["full", *regimes])
    return specs + (selection.specs(run, regimes) if run else [])
