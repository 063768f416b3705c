"""Everything a grid needs is checked while planning, before its first run starts.

``bench run`` expands its grid (profiles and every ``--set`` validated, :mod:`bench.config.profiles`),
checks the dataset's layout and resolves every run's config. :func:`verify_plan` then checks,
for every run still to do:

* its label mask: the regime drawn for its training images, so a ``ratio:`` with the wrong
  number of tasks or a ``file:`` split of the wrong shape or content is found now, not after
  earlier runs have trained;
* its method and task weighting: built once per distinct configuration, so options that their
  constructors reject (a torchjd aggregator's too) are found now; and with it every optimiser
  group's optimiser and scheduler (the main one and each method's own, e.g. XTC's FiLM), so an
  argument the torch or mmengine class rejects (a negative learning rate) is found now;
* its precision: ``train.amp`` runnable on the device this process trains on (fp16 needs CUDA);
* its data: every file any of the runs will read (:mod:`bench.data.check`, cached).

Any problem is a :class:`~bench.errors.BenchError` (exit 2) and no run starts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.data.base import LayoutInfo
from bench.data.check import DataCheck, cache_path, require_valid
from bench.errors import BenchError
from bench.registry import get_dataset

if TYPE_CHECKING:
    from bench.grid.plan import PlannedRun


def verify_plan(runs: Sequence[PlannedRun], layout: LayoutInfo,
                results_root: Path) -> DataCheck | None:
    """Check the unfinished runs of a plan (see the module docstring); the data check's result
    (``None`` when every run is finished and nothing will be read)."""
    todo = [r for r in runs if not r.finished]
    if not todo:
        return None
    check_masks(todo)
    check_methods(todo)
    check_precision(todo)
    return check_data(todo, layout, results_root)


def check_masks(runs: Sequence[PlannedRun]) -> None:
    """Draw every run's label mask; a regime that cannot make one names the run."""
    from bench.engine.build import run_mask, training_split

    for run in runs:
        try:
            run_mask(run.config, get_dataset(run.spec.dataset), training_split(run.config),
                     run.spec.seed)
        except BenchError as exc:
            raise BenchError(f"Run {run.spec.label()}: {exc.message}", exc.hint) from None


def check_methods(runs: Sequence[PlannedRun]) -> None:
    """Build each distinct method + weighting configuration once (on the CPU, then dropped),
    with its optimisers and schedulers."""
    from bench.engine.build import build_method

    seen = set()
    for run in runs:
        c = run.config
        key = json.dumps([c["method"], c.get("weighting"), c["model"],
                          c["train"].get("loss_reduction"), c["optim"]],
                         sort_keys=True, default=str)
        if key in seen:
            continue
        seen.add(key)
        tasks = get_dataset(run.spec.dataset).build_tasks()
        try:
            method = build_method(c, tasks)
        except BenchError:
            raise
        except (TypeError, ValueError, KeyError) as exc:
            raise BenchError(f"Run {run.spec.label()} cannot be built: method options "
                             f"{json.dumps(c['method']['options'], default=str)}, weighting "
                             f"{json.dumps(c.get('weighting'), default=str)}: "
                             f"{type(exc).__name__}: {exc}",
                             "Fix the method's or the weighting's options in the profile or "
                             "--set.") from None
        check_optimisation(run, method)


def check_optimisation(run: PlannedRun, method: Any) -> None:
    """Build every optimiser group's optimiser and scheduler of ``run`` for ``method``, as the
    run will (torch and mmengine check their arguments then)."""
    from mmengine.registry import PARAM_SCHEDULERS

    from bench.engine.build import build_optimizer, scheduler_configs

    optim = run.config["optim"]
    for group, params in method.optim_groups().items():
        settings = optim.get(group) or {}
        try:
            optimizer = build_optimizer(params, settings["optimizer"])
            for cfg in scheduler_configs(settings.get("scheduler")):
                PARAM_SCHEDULERS.build({**cfg, "optimizer": optimizer})
        except BenchError:
            raise
        except Exception as exc:  # noqa: BLE001 - what the class rejects is the user's setting
            where = ("train.optimizer / train.scheduler" if group == "net"
                     else f"methods.{run.config['method']['family']}.optim.{group}")
            raise BenchError(f"Run {run.spec.label()}: the optimiser group '{group}' cannot be "
                             f"built from {json.dumps(settings, default=str)}: "
                             f"{type(exc).__name__}: {exc}",
                             f"Fix {where} in the profile or --set.") from None


def check_precision(runs: Sequence[PlannedRun]) -> None:
    """Every run's ``train.amp`` runs on this process's device (:mod:`bench.engine.precision`)."""
    from mmengine.device import get_device

    from bench.engine.precision import amp_mode, check_amp

    for run in runs:
        try:
            check_amp(amp_mode(run.config), get_device())
        except BenchError as exc:
            raise BenchError(f"Run {run.spec.label()}: {exc.message}", exc.hint) from None


def check_data(runs: Sequence[PlannedRun], layout: LayoutInfo, results_root: Path) -> DataCheck:
    """Check every file the runs read: the first ``images.train`` / ``images.test`` samples of
    the training / test split, the most any run reads."""
    ds = get_dataset(runs[0].spec.dataset)
    counts = {"train": max(int(r.config["dataset"]["images"]["train"]) for r in runs),
              "val": max(int(r.config["dataset"]["images"]["test"]) for r in runs)}
    return require_valid(ds, layout.root, (layout.height, layout.width), counts,
                         cache_path(results_root, ds, layout.root))
