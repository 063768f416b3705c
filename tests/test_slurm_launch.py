"""Slurm through submitit: options, the job array a grid becomes, requeue after a time limit.

No Slurm is needed: ``sbatch`` and ``sacct`` are small fake scripts on ``PATH`` that answer as
Slurm does, and the requeue path runs on submitit's local executor, which requeues a job the same
way (submitit's signal handler, :meth:`RunJob.checkpoint`) when the job gets Slurm's time-limit
warning, ``USR2``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from polling import wait_until

from bench.cli import main
from bench.errors import BenchError
from bench.launch.options import launcher_options, parse_time, read_launcher_profile
from bench.launch.scheduler import ACTIVE, ENDED, QUEUED, slurm_kind
from bench.records.store import iter_records

ROOT = Path(__file__).resolve().parents[1]


def _grid(data: Path, results: Path, *extra: str) -> list[str]:
    return ["run", "--methods", "sl", "--dataset", "nyuv2", "--regimes", "onelabel", "--seeds",
            "0,1", "--profile", "smoke", "--no-table", "--data-root", str(data), "--results",
            str(results), *extra]


# -- options --------------------------------------------------------------------------------------
def test_launcher_profile_and_overrides(tmp_path):
    profile = tmp_path / "cluster.json"
    profile.write_text(json.dumps({"partition": "gpu", "gpus_per_run": 2, "time_min": 600,
                                   "setup": ["module load cuda"]}))
    opts = launcher_options(profile, {"partition": "a100", "qos": "high", "mem_gb": None})
    assert (opts.partition, opts.gpus_per_run, opts.time_min, opts.qos, opts.setup) == (
        "a100", 2, 600, "high", ["module load cuda"])
    assert opts.mem_gb is None and opts.cpus_per_run == 4


@pytest.mark.parametrize("content,expected", [
    ({"partion": "gpu"}, "Did you mean 'partition'?"),
    ({"gpus_per_run": -1}, "gpus_per_run=-1 is not valid"),
    ({"time_min": "long"}, "time_min='long' is not valid"),
    ({"setup": "module load cuda"}, "expected a list of shell lines"),
    ([1, 2], "is not a JSON object"),
])
def test_bad_launcher_profile(tmp_path, content, expected):
    profile = tmp_path / "cluster.json"
    profile.write_text(json.dumps(content))
    with pytest.raises(BenchError) as info:
        read_launcher_profile(profile)
    assert expected in str(info.value)


def test_time_limits():
    assert [parse_time(t) for t in ("720", "12h", "90m", "12:00:00", "1-02:00:00")] == [
        720, 720, 90, 720, 1560]
    for bad in ("soon", "0", "1:2", "-5"):
        with pytest.raises(BenchError):
            parse_time(bad)


@pytest.mark.parametrize("extra,expected", [
    (["--launcher", "slrum"], "Unknown launcher 'slrum'"),
    (["--partition", "gpu"], "need a launcher that submits jobs"),
    (["--launcher", "slurm", "--gpus", "0,1"], "each run gets its own GPUs"),
    (["--launcher", "slurm", "--time", "forever"], "Bad time limit 'forever'"),
    (["--launcher", "slurm", "--gpus-per-run", "-2"], "gpus_per_run=-2 is not valid"),
    (["--launcher", "slurm", "--launcher-profile", "/nonexistent.json"], "does not exist"),
    (["--gpus", "0,x"], "Bad --gpus '0,x'"),
    (["--gpus", "1,1"], "names a device twice"),
])
def test_bad_launcher_input_exits_2(tmp_path, capsys, extra, expected):
    assert main(_grid(tmp_path / "data", tmp_path / "res", *extra)) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert not (tmp_path / "res").exists()  # nothing submitted, nothing written


def test_slurm_without_slurm_exits_2(nyuv2_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no srun, no sbatch
    assert main(_grid(nyuv2_root, tmp_path / "res", "--launcher", "slurm")) == 2
    err = capsys.readouterr().err
    assert "no Slurm here" in err and "Traceback" not in err


def test_slurm_state_words():
    assert [slurm_kind(w) for w in ("PENDING", "REQUEUED", "RUNNING", "COMPLETED",
                                    "CANCELLED by 12", "TIMEOUT", "OUT_OF_MEMORY", "")] == [
        QUEUED, QUEUED, ACTIVE, ENDED, ENDED, ENDED, ENDED, "unknown"]


# -- submission to a (fake) Slurm ---------------------------------------------------------------
def _fake_slurm(bin_dir: Path, states: dict[str, str]) -> Path:
    """``sbatch`` that accepts any script as job 4242; ``sacct`` that reports ``states``;
    ``srun`` (submitit looks for it)."""
    bin_dir.mkdir()
    calls = bin_dir / "calls.txt"
    (bin_dir / "sbatch").write_text(f"#!/bin/sh\necho \"$@\" >> {calls}\n"
                                    "echo 'Submitted batch job 4242'\n")
    lines = "\\n".join(f"{job}|{state}|node1" for job, state in states.items())
    (bin_dir / "sacct").write_text("#!/bin/sh\nprintf 'JobID|State|NodeList\\n"
                                   f"{lines}\\n'\n")
    (bin_dir / "srun").write_text("#!/bin/sh\nexec \"$@\"\n")
    for name in ("sbatch", "sacct", "srun"):
        (bin_dir / name).chmod(0o755)
    return calls


def test_slurm_submits_a_job_array_and_status_asks_sacct(nyuv2_root, tmp_path, monkeypatch,
                                                         capsys):
    calls = _fake_slurm(tmp_path / "bin", {"4242_0": "RUNNING", "4242_1": "PENDING"})
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    results = tmp_path / "res"
    argv = _grid(nyuv2_root, results, "--launcher", "slurm", "--partition", "gpu", "--qos",
                 "high", "--account", "proj", "--time", "12h", "--mem", "32",
                 "--gpus-per-run", "1", "--cpus-per-run", "8", "--array-parallelism", "1")
    assert main(argv) == 0
    assert "Submitted 2 runs to slurm (job 4242)" in capsys.readouterr().err
    script = next((results / "submitit").rglob("*.sh")).read_text()
    for flag in ("--partition=gpu", "--qos=high", "--account=proj", "--time=720", "--mem=32GB",
                 "--gpus-per-node=1", "--cpus-per-task=8", "--array=0-1%1",
                 "--signal=USR2@120", "--requeue", "--open-mode=append"):
        assert f"#SBATCH {flag}" in script, flag
    launches = sorted((json.loads(p.read_text()) for p in results.rglob("launch.json")),
                      key=lambda x: x["job_id"])
    assert [x["job_id"] for x in launches] == ["4242_0", "4242_1"]
    assert launches[0]["stdout"].endswith("4242_0/4242_0_0_log.out")
    assert len(calls.read_text().splitlines()) == 1  # one array, one sbatch

    # the scheduler holds both: a second submission submits nothing
    assert main(argv) == 0
    assert "Submitted 0 runs to slurm; 2 still queued or running" in capsys.readouterr().err
    assert len(calls.read_text().splitlines()) == 1

    assert main(["status", "--methods", "sl", "--dataset", "nyuv2", "--regimes", "onelabel",
                 "--seeds", "0,1", "--profile", "smoke", "--data-root", str(nyuv2_root),
                 "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "4242_0 (RUNNING)" in out and "4242_1 (PENDING)" in out
    assert "pending 1  running 1  finished 0  failed 0  diverged 0" in out


# -- submitit's local executor: a grid, and a requeue after the time-limit signal ----------------
@pytest.mark.slow
def test_submitit_local_timeout_requeues_and_resumes(nyuv2_root, tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    reference, results = tmp_path / "ref", tmp_path / "res"
    grid = ["run", "--methods", "sl", "--dataset", "nyuv2", "--regimes", "onelabel", "--seeds",
            "0", "--profile", "smoke", "--set", "train.epochs=6", "--no-table", "--data-root",
            str(nyuv2_root)]
    assert main([*grid, "--results", str(reference), "--jobs", "1"]) == 0
    ref = next(iter_records(reference))

    # a 5-minute limit: submitit counts the USR2 below as the time-limit warning (not a
    # preemption) and requeues the job, which resumes the run from its newest checkpoint
    proc = subprocess.Popen([sys.executable, "-m", "bench", *grid, "--results", str(results),
                             "--launcher", "submitit-local", "--time", "5"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        first = wait_until(lambda: next(results.rglob("work/epoch_1.pth"), None), 240,
                           "the job's first checkpoint", interval=0.02)
        run = first.parents[1]
        task = json.loads((run / "run.lock").read_text())["pid"]
        os.kill(task, signal.SIGUSR2)  # what Slurm sends signal_delay_s before the time limit
        out, _ = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    rec = next(iter_records(results))
    assert rec.status == "ok" and rec.timing["resumed"]
    assert rec.metrics == ref.metrics and rec.history == ref.history
    assert rec.val_metrics == ref.val_metrics
    # the run's log is found from its record, and it tells the story
    assert rec.launch["launcher"] == "submitit-local"
    log = Path(rec.launch["stdout"]).read_text()
    assert "this job is timed-out" in log and "requeued, resuming from the last checkpoint" in log
    assert "(9 remaining timeouts)" in log  # max_requeues 10, one used
    starts = [int(m) for m in re.findall(r"(\d+)/\d+ iterations done at start", log)]
    assert len(starts) == 2 and starts[0] == 0 and starts[1] > 0, log
    assert json.loads((run / "launch.json").read_text())["stdout"] == rec.launch["stdout"]

    # finished runs are skipped: nothing is submitted again
    again = subprocess.run([sys.executable, "-m", "bench", *grid, "--results", str(results),
                            "--launcher", "submitit-local"], cwd=ROOT, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "Submitted 0 runs to submitit-local; 0 still queued or running from before; " \
           "1 finished" in again.stderr
