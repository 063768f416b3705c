"""Every probe of issue 10 that used to end in a traceback (or too late) exits 2 with a message,
before any run starts; regimes and split files are checked for the whole grid while planning;
a profile file never names a folder outside the results."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from records import metrics_of, write_record

from bench.cli import main
from bench.config.profiles import find_profile
from bench.engine.hooks import RunStateHook
from bench.grid.plan import expand_grid, plan, prepare_dataset
from bench.records.record import RecordError
from bench.records.store import RECORD, load_record_file


def _run_argv(nyuv2_root: Path, results: Path, *extra: str) -> list[str]:
    return ["run", "--methods", "sl", "--dataset", "nyuv2", "--profile", "smoke", "--jobs", "1",
            "--data-root", str(nyuv2_root), "--results", str(results), *extra]


def _fails_cleanly(code: int, capsys, expected: str) -> str:
    err = capsys.readouterr().err
    assert code == 2, err
    assert expected in err and "Traceback" not in err, err
    return err


# -- a record that is valid JSON but not an object ----------------------------------------------
@pytest.mark.parametrize("content", ["null", "[1, 2]", "42", '"text"'])
def test_a_record_that_is_not_an_object_is_named_by_bench_table(content, tmp_path, capsys):
    results = tmp_path / "r"
    write_record(results, "nyuv2", "sl", "onelabel", 0, metrics_of(40, 0.5, 25))
    bad = write_record(results, "nyuv2", "sl", "onelabel", 1, metrics_of(41, 0.5, 25)) / RECORD
    bad.write_text(content)
    with pytest.raises(RecordError, match="not an object"):
        load_record_file(bad)
    assert main(["table", "--dataset", "nyuv2", "--profile", "quick", "--results",
                 str(results)]) == 0
    captured = capsys.readouterr()
    assert "warning:" in captured.err and str(bad) in captured.err
    assert "Traceback" not in captured.err + captured.out
    # with no readable record left, the error says why
    good = next(p for p in results.rglob(RECORD) if p != bad)
    good.write_text("[]")
    code = main(["table", "--dataset", "nyuv2", "--results", str(results)])
    _fails_cleanly(code, capsys, "could not be read")


@pytest.mark.parametrize("content", ["null", "[]", "{broken"])
def test_dry_run_lists_a_run_whose_record_cannot_be_read(content, nyuv2_root, tmp_path, capsys):
    results = tmp_path / "r"
    specs = expand_grid(["sl"], "nyuv2", ["onelabel"], [0], "smoke")
    run = plan(specs, prepare_dataset("nyuv2", nyuv2_root), results)[0]
    run.directory.mkdir(parents=True)
    (run.directory / RECORD).write_text(content)
    assert main(_run_argv(nyuv2_root, results, "--regimes", "onelabel", "--seeds", "0",
                          "--dry-run")) == 0
    captured = capsys.readouterr()
    assert "todo" in captured.err and "its record cannot be read" in captured.err
    assert "Traceback" not in captured.err


# -- run state ----------------------------------------------------------------------------------
@pytest.mark.parametrize("content", ["", "{not json", "null", '{"history": 3}'])
def test_an_empty_or_corrupt_run_state_is_ignored(content, tmp_path):
    state = tmp_path / "bench_state.json"
    state.write_text(content)
    hook = RunStateHook(state, torch.device("cpu"))
    assert hook.history == [] and hook.resumed == 0
    assert "bench_state.json" in " ".join(hook.notes)


# -- labels of string dtype ---------------------------------------------------------------------
def test_a_label_file_of_string_dtype(nyuv2_root, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(nyuv2_root / "nyuv2", data / "nyuv2")
    np.save(data / "nyuv2" / "train" / "label" / "0.npy", np.full((64, 64), "cat"))
    code = main(_run_argv(data, tmp_path / "r", "--regimes", "onelabel"))
    _fails_cleanly(code, capsys, "label/0.npy: dtype <U3 is not numeric")
    assert main(["data", "check", "--dataset", "nyuv2", "--data-root", str(data)]) == 2


# -- regimes ------------------------------------------------------------------------------------
@pytest.mark.parametrize("regime", ["ratio:nan:1:1", "ratio:inf:1:1", "ratio:1e300:1:1",
                                    "ratio:-1:1:1", "ratio:0:0:0", "ratio:1"])
def test_bad_ratio_numbers(regime, tmp_path, capsys):
    code = main(["run", "--methods", "sl", "--dataset", "nyuv2", "--regimes", regime,
                 "--data-root", str(tmp_path / "none"), "--results", str(tmp_path / "r")])
    _fails_cleanly(code, capsys, "Bad ratio regime")


def test_a_wrong_ratio_count_stops_the_grid_before_its_first_run(nyuv2_root, tmp_path, capsys):
    results = tmp_path / "r"
    code = main(_run_argv(nyuv2_root, results, "--regimes", "onelabel,ratio:1:9"))
    err = _fails_cleanly(code, capsys, "gives 2 ratios but the dataset has 3 tasks")
    assert "sl · ratio:1:9" in err
    assert not (results / "runs").exists()  # the onelabel run did not train first


def test_a_split_file_of_the_wrong_shape_stops_the_grid_before_its_first_run(nyuv2_root,
                                                                             tmp_path, capsys):
    split = tmp_path / "split.pth"
    torch.save({"labels_weights": torch.ones(795, 3)}, split)
    results = tmp_path / "r"
    code = main(_run_argv(nyuv2_root, results, "--regimes", f"onelabel,file:{split}"))
    _fails_cleanly(code, capsys, "has labels_weights of shape (795, 3), but the training split "
                                 "has 16 images")
    assert not (results / "runs").exists()
    missing = main(_run_argv(nyuv2_root, results, "--regimes", f"full,file:{tmp_path}/no.pth"))
    _fails_cleanly(missing, capsys, "Split file not found")
    assert not (results / "runs").exists()


# -- reports ------------------------------------------------------------------------------------
def test_report_to_a_folder_that_cannot_be_created(tmp_path, capsys):
    results = tmp_path / "r"
    write_record(results, "nyuv2", "sl", "onelabel", 0, metrics_of(40, 0.5, 25))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code = main(["report", "--dataset", "nyuv2", "--results", str(results),
                 "--out", str(blocker / "report")])
    _fails_cleanly(code, capsys, "Cannot create the report folder")


# -- settings -----------------------------------------------------------------------------------
@pytest.mark.parametrize("setting,expected", [
    ("train.epochs=abc", "train.epochs='abc' is not valid: expected an integer"),
    ("train.diverge_above=-1", "train.diverge_above=-1 is not valid"),
    ("train.diverge_above=\"big\"", "train.diverge_above='big' is not valid"),
])
def test_bad_settings_are_one_error_while_planning(setting, expected, nyuv2_root, tmp_path,
                                                   capsys):
    results = tmp_path / "r"
    code = main(_run_argv(nyuv2_root, results, "--regimes", "onelabel,full", "--seeds", "0,1",
                          "--set", setting))
    err = _fails_cleanly(code, capsys, expected)
    assert err.count("error:") == 1
    assert not results.exists()


def test_a_profile_that_extends_a_missing_file(tmp_path, capsys):
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps({"extends": "missing.json", "train": {"epochs": 1}}))
    code = main(["run", "--methods", "sl", "--dataset", "nyuv2", "--profile", str(profile),
                 "--data-root", str(tmp_path / "none"), "--results", str(tmp_path / "r")])
    _fails_cleanly(code, capsys, "extends 'missing.json', which is not a profile")


# -- run folders never come from a raw profile path ---------------------------------------------
def test_a_profile_path_never_escapes_the_results_folder(nyuv2_root, tmp_path, capsys,
                                                         monkeypatch):
    (tmp_path / "elsewhere").mkdir()
    profile = tmp_path / "elsewhere" / "tuned.json"
    shutil.copy(find_profile("smoke").source, profile)
    results = tmp_path / "r"
    monkeypatch.chdir(tmp_path)
    folders = set()
    layout = prepare_dataset("nyuv2", nyuv2_root)
    for written in (str(profile), "elsewhere/tuned.json", "./elsewhere/../elsewhere/tuned.json"):
        run = plan(expand_grid(["sl"], "nyuv2", ["onelabel"], [0], written), layout, results)[0]
        assert run.directory.is_relative_to(results / "runs" / "nyuv2" / "onelabel" / "sl")
        assert run.directory.name.startswith(f"{find_profile(str(profile)).id}-seed0-")
        folders.add(run.directory)
        assert main(_run_argv(nyuv2_root, results, "--regimes", "onelabel", "--seeds", "0",
                              "--profile", written, "--dry-run")) == 0
    assert len(folders) == 1
    assert find_profile(str(profile)).id.startswith("tuned-")
    assert not any(p.name.startswith("tuned.json-seed") for p in tmp_path.rglob("*"))


# -- every command and flag with the malformed values a careless user types -------------------
def _results_with_runs(tmp_path: Path) -> Path:
    results = tmp_path / "r"
    for seed in (0, 1):
        write_record(results, "nyuv2", "sl", "onelabel", seed, metrics_of(40 + seed, 0.5, 25),
                     profile="smoke")
    return results


#: (command and its flags, the words of the message); every one exits 2 before anything runs
MALFORMED = [
    (["run", "--seeds", ""], "--seeds '' names nothing"),
    (["run", "--seeds", ","], "--seeds ',' names nothing"),
    (["run", "--seeds", "-1"], "Seed -1 of --seeds '-1' is out of range"),
    (["run", "--seeds", "4294967296"], "is out of range"),
    (["run", "--seeds", "0,0"], "names seed 0 twice"),
    (["run", "--seeds", "0-4"], "not a range like 0-4"),
    (["run", "--seeds", "one"], "Bad --seeds 'one'"),
    (["run", "--regimes", ""], "--regimes '' names nothing"),
    (["run", "--regimes", ","], "--regimes ',' names nothing"),
    (["run", "--regimes", "ratio:0:1:1"], "Bad ratio regime 'ratio:0:1:1'"),
    (["run", "--regimes", "onelable"], "Did you mean 'onelabel'?"),
    (["run", "--methods", ""], "No method given"),
    (["run", "--methods", "xtcc"], "Did you mean 'xtc'?"),
    (["run", "--weighting", ""], "No weighting given"),
    (["run", "--weighting", "dwaa"], "Unknown weighting 'dwaa'"),
    (["run", "--dataset", "nyu"], "Unknown dataset 'nyu'"),
    (["run", "--jobs", "0"], "--jobs must be at least 1, got 0"),
    (["run", "--jobs", "-2"], "--jobs must be at least 1, got -2"),
    (["run", "--nproc", "0"], "--nproc must be at least 1"),
    (["run", "--launcher", "slrum"], "Unknown launcher 'slrum'"),
    (["run", "--profile", "smok"], "Unknown profile 'smok'"),
    (["run", "--set", "train.optimizer.lr=-0.1"], "Invalid learning rate: -0.1"),
    (["run", "--set", "methods.xtc.optim.film.optimizer.lr=-1", "--methods", "xtc"],
     "the optimiser group 'film' cannot be built"),
    (["run", "--set", "train.epoch=3"], "Did you mean 'train.epochs'?"),
    (["status", "--seeds", "-3"], "Seed -3 of --seeds '-3' is out of range"),
    (["status", "--weighting", "dwaa"], "Unknown weighting 'dwaa'"),
    (["status", "--state", "runing"], "Unknown state 'runing'"),
    (["status", "--state", ","], "--state ',' names nothing"),
    (["table", "--seeds", ","], "--seeds ',' names nothing"),
    (["table", "--regimes", ","], "--regimes ',' names nothing"),
    (["table", "--weighting", "dwaa"], "Unknown weighting 'dwaa'"),
    (["table", "--set", "train.epoch=3"], "Did you mean 'train.epochs'?"),
    (["table", "--baseline", "sl@"], "Bad --baseline 'sl@'"),
    (["check", "--method", "sl", "--tolerance", "foo=1%"], "--tolerance names 'foo'"),
    (["check", "--method", "sl", "--tolerance", "-5%"], "Bad tolerance value '-5%'"),
    (["check", "--method", "sl", "--tolerance", "2%%"], "Bad tolerance value"),
    (["check", "--method", "sl", "--against", "/nonexistent/ref"], "does not exist"),
    (["check"], "bench check needs --method"),
    (["power", "--seeds", "0", "--no-run"], "needs at least two seeds"),
    (["power", "--seeds", "0,0", "--no-run"], "names seed 0 twice"),
    (["power", "--jobs", "0"], "--jobs must be at least 1"),
    (["tune", "--methods", "sl", "--trials", "0"], "--trials must be at least 1"),
    (["tune", "--methods", "sl", "--regimes", "onelabel,full"], "tunes on one label regime"),
    (["tune", "--methods", "sl+dwa"], "equal weights"),
    (["tune", "--methods", "sl", "--seeds", "0,1"], "--seed N, not --seeds"),
    (["perf", "--size", "33x64"], "is not divisible by 32"),
    (["perf", "--seeds", "0"], "names nothing it uses"),
    (["perf", "--regimes", "onelabel,full"], "from one regime"),
]


@pytest.mark.parametrize("argv,expected", MALFORMED, ids=lambda x: " ".join(x)
                         if isinstance(x, list) else None)
def test_a_malformed_value_exits_2_with_what_to_do(argv, expected, nyuv2_root, tmp_path,
                                                   capsys):
    results = _results_with_runs(tmp_path)
    before = sorted(results.rglob(RECORD))
    folders = ["--results", str(results)]
    if argv[0] not in ("table", "report", "check", "perf"):
        folders += ["--data-root", str(nyuv2_root)]
    dataset = [] if "--dataset" in argv or argv[0] == "perf" else ["--dataset", "nyuv2"]
    profile = [] if "--profile" in argv or argv[0] == "perf" else ["--profile", "smoke"]
    if argv[0] == "perf":
        folders = []
    code = main([*argv, *dataset, *profile, *folders])
    _fails_cleanly(code, capsys, expected)
    assert sorted(results.rglob(RECORD)) == before  # nothing finished is lost or added


@pytest.mark.parametrize("command", [["run", "--dry-run"], ["status"], ["table"],
                                     ["report"], ["check", "--method", "sl"],
                                     ["power", "--no-run"]])
def test_a_results_path_that_cannot_hold_runs(command, tmp_path, capsys):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    code = main([*command, "--dataset", "nyuv2", "--results", str(a_file),
                 "--data-root", str(tmp_path / "none")])
    _fails_cleanly(code, capsys, "is a file, not a folder")
    runs_a_file = tmp_path / "res"
    runs_a_file.mkdir()
    (runs_a_file / "runs").write_text("")
    code = main([*command, "--dataset", "nyuv2", "--results", str(runs_a_file),
                 "--data-root", str(tmp_path / "none")])
    _fails_cleanly(code, capsys, "runs is a file, not a folder")


def test_a_profile_path_that_is_a_folder(tmp_path, capsys):
    folder = tmp_path / "profiles.json"
    folder.mkdir()
    code = main(["run", "--dry-run", "--dataset", "nyuv2", "--profile", str(folder),
                 "--results", str(tmp_path / "r"), "--data-root", str(tmp_path / "none")])
    _fails_cleanly(code, capsys, "is a folder, not a profile file")


def test_power_out_is_a_file_made_with_its_folders_or_refused_as_a_folder(tmp_path, capsys):
    results = tmp_path / "r"
    for regime in ("full", "onelabel"):
        for seed in (0, 1):
            write_record(results, "nyuv2", "sl", regime, seed, metrics_of(40 + seed, 0.5, 25),
                         profile="smoke")
    base = ["power", "--no-run", "--dataset", "nyuv2", "--methods", "sl", "--regimes",
            "onelabel", "--seeds", "0,1", "--profile", "smoke", "--results", str(results)]
    out = tmp_path / "new" / "folders" / "power.md"
    assert main([*base, "--out", str(out)]) == 0
    assert out.is_file() and "positive control" in out.read_text()
    capsys.readouterr()
    _fails_cleanly(main([*base, "--out", str(tmp_path)]), capsys, "is a folder")


def test_reading_commands_show_no_developer_warnings(tmp_path):
    """numpy's "Mean of empty slice", a library's deprecations: not for users (BENCH_DEBUG=1
    shows them)."""
    import subprocess
    import sys

    results = tmp_path / "r"
    write_record(results, "nyuv2", "sl", "onelabel", 0, {**metrics_of(40, 0.5, 25),
                                                         "depth/relErr": float("nan")})
    root = Path(__file__).resolve().parents[1]
    for argv in (["table", "--all-metrics"], ["check", "--method", "sl", "--allow-missing",
                                              "--against", str(results)]):
        proc = subprocess.run([sys.executable, "-m", "bench", *argv, "--dataset", "nyuv2",
                               "--results", str(results)], cwd=root, capture_output=True,
                              text=True, timeout=300)
        assert "Warning" not in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
