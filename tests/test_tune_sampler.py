"""The tuner's sampler: reproducible for a fresh study, new points after a resume."""

from __future__ import annotations

import optuna

from bench.studies.tune import sampler_seed


def _first_points(seed: int, study: optuna.Study, n: int) -> list[float]:
    study.sampler = optuna.samplers.TPESampler(seed=sampler_seed(seed, study))
    out = []
    for _ in range(n):
        trial = study.ask()
        out.append(trial.suggest_float("lr", 1e-4, 1e-2, log=True))
        study.tell(trial, 0.0)
    return out


def test_a_fresh_study_uses_the_seed_and_a_resumed_one_draws_new_points():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    fresh = optuna.create_study(direction="maximize")
    assert sampler_seed(3, fresh) == 3
    first = _first_points(3, fresh, 2)
    again = _first_points(3, optuna.create_study(direction="maximize"), 2)
    assert first == again  # a fresh study in one process is reproducible
    resumed = _first_points(3, fresh, 2)  # the same study, picked up again
    assert not set(resumed) & set(first)
