"""``bench tune``: equal-budget hyper-parameter search per method, on the validation split only.

Each method searches the space its metadata declares (``MethodInfo.search_space``: keys under
its profile section ``methods.<name>``, e.g. ``con_weight`` or ``optim.net.optimizer.lr``; a
bound may be written ``"0.5*epochs"``) with Optuna: a TPE sampler, a median pruner fed the
per-epoch validation score, and an SQLite study under ``RESULTS/tuning/`` so that an interrupted
study resumes (a trial killed mid-run is failed by its stale heartbeat and retried with the same
parameters, which resumes its run from the last checkpoint) and several processes can share one
study. Every method gets the same number of trials (completed or pruned) and the same epochs.

The score of a trial is its validation Δm (percent, :func:`bench.engine.evaluation.gain`)
against SL trained with the base profile on the same regime, seed and epochs: the reference
run, trained once per study. Trials never evaluate the test split (``run_one(...,
evaluate_test=False)``) and their runs live under ``RESULTS/tuning/runs`` so they never mix
with the records that tables read. The best parameters are written as a profile that extends the
base one; ``bench run --profile FILE`` takes it, and tables name the rows it tuned.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmengine.hooks import Hook

from bench.config.profiles import PROFILE_DIR, Profile, find_profile, parse_overrides
from bench.config.runspec import RunSpec, config_hash, resolve, run_dir
from bench.errors import BenchError

TUNING_DIR = "tuning"
STORAGE = "studies.db"
HEARTBEAT_S = 15
GRACE_S = 45



def sampler_seed(seed: int, study: Any) -> int:
    """The TPE sampler's seed: ``seed`` for a fresh study, so that one process is reproducible.

    A resumed study, or one another process shares, must not replay the fresh study's sequence
    of random start-up points (it would propose already finished configurations again), so its
    sampler is seeded from the seed, the number of trials so far and the process id.
    """
    n = len(study.get_trials(deepcopy=False))
    if n == 0:
        return seed
    digest = hashlib.sha256(f"{seed}:{n}:{os.getpid()}".encode()).hexdigest()
    return int(digest[:8], 16)

@dataclass(frozen=True)
class TuneRequest:
    """What ``bench tune`` was asked: the methods, where, and the budget of each."""

    methods: Sequence[str]
    dataset: str
    regime: str
    profile: Profile
    trials: int
    epochs: int | None
    seed: int
    results: Path
    layout: Any
    overrides: tuple[tuple[str, Any], ...] = ()
    heartbeat: int = HEARTBEAT_S
    grace: int = GRACE_S

    @property
    def root(self) -> Path:
        return Path(self.results) / TUNING_DIR

    def budget_overrides(self) -> tuple[tuple[str, Any], ...]:
        return self.overrides + ((("train.epochs", self.epochs),) if self.epochs else ())

    def study_name(self, method: str) -> str:
        return (f"{self.dataset}/{self.regime}/{method}/{self.profile.id}/"
                f"seed{self.seed}/{epochs_label(self)}")


def epochs_label(request: TuneRequest) -> str:
    return f"e{request.epochs}" if request.epochs else "profile-epochs"


def storage(request: TuneRequest) -> Any:
    """The SQLite study storage, with heartbeats so killed trials are failed and retried."""
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    request.root.mkdir(parents=True, exist_ok=True)
    return optuna.storages.RDBStorage(
        f"sqlite:///{(request.root / STORAGE).resolve()}",
        engine_kwargs={"connect_args": {"timeout": 60}},
        heartbeat_interval=request.heartbeat, grace_period=request.grace,
        heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
            max_retry=2))


def suggest(trial: Any, space: dict[str, dict[str, Any]], epochs: int) -> dict[str, Any]:
    """One value per key of a search space (bounds may be ``"<factor>*epochs"``)."""
    out = {}
    for key, spec in space.items():
        kind = spec.get("type")
        if kind == "float":
            low, high = bound(spec["low"], epochs), bound(spec["high"], epochs)
            out[key] = trial.suggest_float(key, low, high, log=bool(spec.get("log")))
        elif kind == "int":
            out[key] = trial.suggest_int(key, int(bound(spec["low"], epochs)),
                                         int(bound(spec["high"], epochs)))
        elif kind == "categorical":
            out[key] = trial.suggest_categorical(key, list(spec["choices"]))
        else:
            raise BenchError(f"Search space key {key!r} has unknown type {kind!r}.",
                             "Use float, int or categorical.")
    return out


def bound(value: Any, epochs: int) -> float:
    if isinstance(value, str):
        m = re.fullmatch(r"\s*([0-9.]+)\s*\*\s*epochs\s*", value)
        if not m:
            raise BenchError(f"Search space bound {value!r} is not a number or '<k>*epochs'.")
        return float(m.group(1)) * epochs
    return float(value)


def method_overrides(method: str, params: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """``--set`` overrides that put ``params`` into ``methods.<method>``."""
    return tuple((f"methods.{method}.{key}", value) for key, value in sorted(params.items()))


def nested(params: dict[str, Any]) -> dict[str, Any]:
    """``{"optim.net.optimizer.lr": x}`` → ``{"optim": {"net": {"optimizer": {"lr": x}}}}``."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


class Tuner:
    """Runs the trials of one request (see the module docstring)."""

    def __init__(self, request: TuneRequest, log: Callable[[str], None] = print) -> None:
        self.request = request
        self.log = log
        self.tasks = None

    # -- runs -----------------------------------------------------------------------------------
    def spec(self, method: str, extra: tuple[tuple[str, Any], ...] = ()) -> RunSpec:
        r = self.request
        return RunSpec(method, r.dataset, r.regime, r.seed, r.profile.id,
                       r.budget_overrides() + extra, r.profile.source)

    def train(self, spec: RunSpec, hooks: Sequence[Any] = (),
              reraise: tuple[type[BaseException], ...] = ()) -> Any:
        """Train ``spec`` under the tuning root (or reuse its finished record), test untouched."""
        from bench.engine.execute import run_one
        from bench.records.store import read_record

        config = resolve(spec, self.request.layout)
        directory = run_dir(self.request.root, spec, config_hash(config))
        record = read_record(directory)
        if record is not None and record.finished:
            return record
        return run_one(spec, config, directory, evaluate_test=False, extra_hooks=hooks,
                       reraise=reraise)

    def reference(self) -> dict[str, float]:
        """Validation metrics of SL with the base profile: what every score is measured against."""
        record = self.train(self.spec("sl"))
        if record.status != "ok" or not record.val_metrics:
            raise BenchError(f"The reference run (SL, {self.request.regime}) ended with status "
                             f"{record.status}: no validation metrics to tune against.",
                             "Check that the profile has a validation split "
                             "(data.val_fraction > 0).")
        return record.val_metrics

    # -- studies --------------------------------------------------------------------------------
    def tune(self, method: str) -> Any:
        import optuna
        from optuna.study import MaxTrialsCallback
        from optuna.trial import TrialState

        from bench.registry import get_dataset, method_info

        r = self.request
        space = dict(method_info(method).search_space)
        if not space:
            raise BenchError(f"Method '{method}' declares no search space.",
                             "Add one to its MethodInfo (search_space=...).")
        self.tasks = get_dataset(r.dataset).build_tasks()
        reference = self.reference()
        epochs = r.epochs or int(resolve(self.spec("sl"), r.layout)["train"]["epochs"])
        study = optuna.create_study(
            study_name=r.study_name(method), storage=storage(r), direction="maximize",
            load_if_exists=True, sampler=optuna.samplers.TPESampler(seed=r.seed),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=1))
        study.sampler = optuna.samplers.TPESampler(seed=sampler_seed(r.seed, study))
        done = (TrialState.COMPLETE, TrialState.PRUNED)
        remaining = r.trials - len(study.get_trials(deepcopy=False, states=done))
        if remaining > 0:
            self.log(f"{method}: {remaining} of {r.trials} trials to run "
                     f"(study {r.study_name(method)})")
            study.optimize(lambda trial: self.objective(trial, method, space, epochs, reference),
                           callbacks=[MaxTrialsCallback(r.trials, states=done)])
        return study

    def objective(self, trial: Any, method: str, space: dict[str, dict[str, Any]],
                  epochs: int, reference: dict[str, float]) -> float:
        import optuna

        from bench.engine.evaluation import gain

        params = suggest(trial, space, epochs)
        trial.set_user_attr("pid", os.getpid())
        hook = PruningHook(trial, reference, self.tasks)
        try:
            record = self.train(self.spec(method, method_overrides(method, params)), [hook],
                                reraise=(optuna.TrialPruned,))
        except optuna.TrialPruned:
            self.log(f"{method}: trial {trial.number} pruned")
            raise
        if record.status != "ok":
            self.log(f"{method}: trial {trial.number} ended {record.status}")
            raise optuna.TrialPruned(f"run ended with status {record.status}")
        score = gain(record.val_metrics, reference, self.tasks)
        if not math.isfinite(score):
            raise optuna.TrialPruned("no finite validation score")
        self.log(f"{method}: trial {trial.number}: validation Δm {score:+.2f} % "
                 f"({', '.join(f'{k}={v:.3g}' for k, v in params.items())})")
        return score


class PruningHook(Hook):
    """Reports each evaluated epoch's validation Δm to Optuna and prunes unpromising trials."""

    priority = "LOW"

    def __init__(self, trial: Any, reference: dict[str, float], tasks: Any) -> None:
        self.trial = trial
        self.reference = reference
        self.tasks = tasks

    def after_train_epoch(self, runner: Any) -> None:
        import optuna

        from bench.engine.evaluation import gain
        from bench.engine.hooks import RunStateHook

        state = next(h for h in runner.hooks if isinstance(h, RunStateHook))
        last = state.history[-1] if state.history else {}
        if "metrics" not in last:
            return
        score = gain(last["metrics"], self.reference, self.tasks)
        if math.isfinite(score):
            self.trial.report(score, int(last["epoch"]))
            if self.trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {last['epoch']}")


def tuned_profile(request: TuneRequest, studies: dict[str, Any], elapsed: float
                  ) -> dict[str, Any]:
    """The profile of the best parameters: the base profile plus one section per method."""
    from optuna.trial import TrialState

    methods, summary = {}, {}
    for method, study in studies.items():
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        pruned = study.get_trials(deepcopy=False, states=(TrialState.PRUNED,))
        if not complete:
            summary[method] = {"trials": len(pruned), "complete": 0, "best": None}
            continue
        best = study.best_trial
        methods[method] = nested(best.params)
        summary[method] = {"trials": len(complete) + len(pruned), "complete": len(complete),
                           "best_validation_dm": best.value, "study": study.study_name}
    return {
        "description": (f"Tuned by bench tune on {request.dataset} ({request.regime}, seed "
                        f"{request.seed}): {request.trials} trials per method, "
                        f"{request.epochs or 'profile'} epochs, TPE + median pruning on the "
                        f"validation split, score = validation Δm against SL; "
                        f"extends {request.profile.id}."),
        "extends": (request.profile.id if Path(request.profile.source).parent == PROFILE_DIR
                    else request.profile.source),
        "tuning": {"dataset": request.dataset, "regime": request.regime, "seed": request.seed,
                   "trials": request.trials, "epochs": request.epochs,
                   "objective": "validation Δm (%) against SL with the base profile",
                   "sampler": "TPE", "pruner": "median", "wall_time_s": round(elapsed, 1),
                   "methods": summary},
        "methods": methods,
    }


def run_tuning(request: TuneRequest, out: Path, log: Callable[[str], None] = print) -> Path:
    """Tune every method of ``request`` and write the tuned profile to ``out``."""
    t0 = time.perf_counter()
    tuner = Tuner(request, log)
    studies = {m: tuner.tune(m) for m in request.methods}
    profile = tuned_profile(request, studies, time.perf_counter() - t0)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(profile, indent=2) + "\n")
    tmp.replace(out)
    find_profile(str(out))  # the written profile loads
    return out


def overrides_of(items: Sequence[str]) -> tuple[tuple[str, Any], ...]:
    return tuple(parse_overrides(items))
