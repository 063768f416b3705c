"""bench tune: a smoke budget writes a profile bench run accepts, the test split is never read,
a killed study resumes without losing trials, and two processes share one study."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from polling import wait_until

from bench.cli import main
from bench.data.base import DenseDataset
from bench.records.store import iter_records

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def tune_args(nyuv2_root: Path, results: Path, trials: int, methods: str = "sl,xtc") -> list:
    return ["tune", "--methods", methods, "--dataset", "nyuv2", "--profile", "smoke",
            "--trials", str(trials), "--epochs", "1", "--data-root", str(nyuv2_root),
            "--results", str(results)]


def study_started(results: Path) -> bool:
    """Whether the tuner has created its tables and a first trial (read without Optuna, so the
    test never races the tuner's own table creation)."""
    db = results / "tuning" / "studies.db"
    if not db.is_file():
        return False
    try:
        with sqlite3.connect(db, timeout=30) as con:
            return con.execute("SELECT count(*) FROM trials").fetchone()[0] > 0
    except sqlite3.OperationalError:
        return False


def trials_of(results: Path) -> list:
    storage = f"sqlite:///{results / 'tuning' / 'studies.db'}"
    return [t for name in optuna.get_all_study_names(storage)
            for t in optuna.load_study(study_name=name, storage=storage).trials]


def test_tuning_writes_a_profile_run_accepts_and_never_reads_test(nyuv2_root, tmp_path,
                                                                  monkeypatch, capsys):
    read = DenseDataset.read

    def guarded(self, i):
        if self.split == "val":
            raise AssertionError("the tuner read the test split")
        return read(self, i)

    monkeypatch.setattr(DenseDataset, "read", guarded)
    out = tmp_path / "tuned.json"
    assert main([*tune_args(nyuv2_root, tmp_path / "res", 3), "--out", str(out)]) == 0
    profile = json.loads(out.read_text())
    assert profile["extends"] == "smoke" and profile["tuning"]["trials"] == 3
    assert set(profile["methods"]) == {"sl", "xtc"}
    assert "con_weight" in profile["methods"]["xtc"]
    assert "lr" in profile["methods"]["sl"]["optim"]["net"]["optimizer"]
    assert not list((tmp_path / "res").glob("runs"))  # trials live under results/tuning only

    monkeypatch.setattr(DenseDataset, "read", read)
    assert main(["run", "--methods", "sl,xtc", "--dataset", "nyuv2", "--regimes", "onelabel",
                 "--seeds", "0", "--profile", str(out), "--jobs", "1", "--data-root",
                 str(nyuv2_root), "--results", str(tmp_path / "runs")]) == 0
    records = {r.method: r for r in iter_records(tmp_path / "runs")}
    lr = profile["methods"]["xtc"]["optim"]["net"]["optimizer"]["lr"]
    assert records["xtc"].config["optim"]["net"]["optimizer"]["lr"] == lr
    assert records["xtc"].config["tuning"]["trials"] == 3
    assert "‡ hyper-parameters chosen by bench tune" in capsys.readouterr().out


def _tune(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "bench", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_killed_study_resumes_without_losing_trials(nyuv2_root, tmp_path):
    results = tmp_path / "res"
    args = [*tune_args(nyuv2_root, results, 4, "sl"), "--heartbeat", "1"]
    proc = _tune(args)
    done = optuna.trial.TrialState.COMPLETE
    wait_until(lambda: study_started(results)
               and sum(t.state == done for t in trials_of(results)) >= 2, 300,
               "two finished trials")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    before = {t.number: t.value for t in trials_of(results) if t.state == done}
    out, _ = _tune(args).communicate(timeout=600)
    after = trials_of(results)
    kept = {t.number: t.value for t in after if t.number in before}
    assert kept == before, out  # finished trials are never lost or rerun
    finished = [t for t in after if t.state in (done, optuna.trial.TrialState.PRUNED)]
    assert len(finished) >= 4, out


def test_two_processes_share_one_study(nyuv2_root, tmp_path):
    results = tmp_path / "res"
    args = tune_args(nyuv2_root, results, 24, "sl")
    args[args.index("--epochs") + 1] = "3"  # trials long enough for both to take some
    first = _tune(args)
    # the second joins once the first has trained the reference run and started the study
    wait_until(lambda: study_started(results), 300, "the first trial")
    procs = [first, _tune(args)]
    outs = [p.communicate(timeout=900)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    trials = [t for t in trials_of(results) if t.state in done]
    assert 24 <= len(trials) <= 25  # each stops at 24 in all; one may finish a last one
    assert len({t.user_attrs["pid"] for t in trials}) == 2
    # the processes draw different points: none proposes a configuration already tried
    params = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(params)) == len(params)
