"""The weighting axis end to end without training: rows, identity, profiles, methods, tables."""

from __future__ import annotations

import io

import pandas as pd
import pytest
import torch
from mmengine.logging import MessageHub
from records import metrics_of, write_record

from bench.cli import main
from bench.config.profiles import find_profile, parse_overrides
from bench.config.rows import cross_weightings, parse_weightings
from bench.config.runspec import RunSpec, config_hash, resolve, run_dir
from bench.data.nyuv2 import NYUv2
from bench.errors import BenchError
from bench.grid.plan import expand_grid
from bench.registry import METHODS, expand_methods, method_sets, weighting_names
from bench.studies.perf import random_batch

TASKS = NYUv2.build_tasks()


@pytest.fixture(scope="module")
def layout(nyuv2_root):
    return NYUv2.check_layout(nyuv2_root / "nyuv2")


def spec(method: str, weighting: str = "equal", *overrides: str) -> RunSpec:
    found = find_profile("smoke")
    return RunSpec(method, "nyuv2", "full", 0, found.id, tuple(parse_overrides(overrides)),
                   found.source, weighting)


# -- rows -----------------------------------------------------------------------------------------
def test_weightings_cross_every_method_and_stl_only_keeps_equal():
    rows, notes = cross_weightings(expand_methods("sl,stl,xtc"), ["equal", "dwa"])
    assert rows == ["sl", "sl+dwa", "stl", "xtc", "xtc+dwa"]
    assert len(notes) == 1 and "stl" in notes[0] and "dwa" in notes[0]
    with pytest.raises(BenchError, match="take no task weighting"):
        cross_weightings(["stl"], ["dwa"])
    with pytest.raises(BenchError, match="stl takes no task weighting"):
        expand_methods("stl+dwa")
    with pytest.raises(BenchError, match="Unknown weighting 'dwaa'"):
        expand_methods("sl+dwaa")
    assert parse_weightings("all") == weighting_names()
    assert weighting_names()[0] == "equal" and len(weighting_names()) == 11


def test_table5_is_one_named_set_and_the_old_variant_name_gives_its_row():
    assert method_sets()["table5"] == [
        "stl", "sl", "mtan", "xtask", "sl+uncertainty", "sl+gradnorm", "sl+mgda", "sl+dwa",
        "xtc", "xtc+uncertainty"]
    assert expand_methods("xtc-uncertainty") == ["xtc+uncertainty"]
    specs = expand_grid(expand_methods("table5"), "nyuv2", ["full"], [0], "smoke")
    assert [(s.method, s.weighting) for s in specs][4:6] == [("sl", "uncertainty"),
                                                             ("sl", "gradnorm")]


# -- identity -------------------------------------------------------------------------------------
def test_weighting_is_its_own_config_section_and_in_the_hash(layout, tmp_path):
    plain, dwa = resolve(spec("sl"), layout), resolve(spec("sl", "dwa"), layout)
    assert plain["weighting"] == {"name": "equal", "options": {}}
    assert dwa["weighting"] == {"name": "dwa", "options": {"temperature": 2.0}}
    assert "weighting" not in plain["method"]["options"]
    assert config_hash(plain) != config_hash(dwa)
    assert plain["method"] == dwa["method"]
    hot = resolve(spec("sl", "dwa", "weightings.dwa.temperature=4"), layout)
    assert hot["weighting"]["options"]["temperature"] == 4
    assert config_hash(hot) != config_hash(dwa)
    assert resolve(spec("sl", "cagrad"), layout)["weighting"]["options"] == {
        "aggregator": "cagrad", "c": 0.4}
    assert run_dir(tmp_path, spec("sl", "dwa"), config_hash(dwa)).parent.name == "sl+dwa"
    assert spec("sl", "dwa").label().startswith("sl+dwa · full")
    with pytest.raises(BenchError, match="takes no task weighting"):
        resolve(spec("stl", "dwa"), layout)


# -- methods compose with weightings --------------------------------------------------------------
def _build(method: str, weighting: str = "equal", tasks=TASKS):
    torch.manual_seed(0)
    return METHODS.build({"type": method, "tasks": tasks, "width": 0.0625, "weighting": weighting})


def test_xtc_consistency_term_is_not_reweighted():
    data = random_batch(TASKS, 2, 32, 32, "full")
    out = {}
    for weighting in ("equal", "uncertainty"):
        model = _build("xtc", weighting)
        model.net.logsigma.data.fill_(1.0)
        torch.manual_seed(1)
        out[weighting] = model.loss(data["image"], data["labels"], data["label_mask"],
                                    data["view2"])
    torch.testing.assert_close(out["equal"]["loss_xtc"], out["uncertainty"]["loss_xtc"])
    assert not torch.allclose(out["equal"]["loss_sup"], out["uncertainty"]["loss_sup"])


@pytest.mark.parametrize("method,weighting", [("discriminator", "upgrad"), ("xtc", "gradnorm"),
                                              ("mtan", "mgda"), ("ssl", "dwa")])
def test_every_kind_of_method_trains_with_a_weighting(method, weighting):
    from bench.studies.perf import _wrappers

    model = _build(method, weighting)
    wrappers = _wrappers(model)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    log = model.train_step(random_batch(TASKS, 2, 32, 32, "onelabel"), wrappers)
    assert torch.isfinite(log["loss"]) and {"w_semantic", "w_depth", "w_normal"} <= set(log)
    moved = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert any(n.startswith("net.encoder_block") for n in moved)
    if method == "discriminator":  # D moved in its own step, not from the network's loss
        assert any(n.startswith("discriminator.") for n in moved)


def test_weighting_state_is_in_the_method_state_dict():
    keys = set(_build("sl", "gradnorm").state_dict())
    assert {"weighting.weights", "weighting.initial", "weighting.exp_avg"} <= keys
    assert {"weighting.history", "weighting.epoch"} <= set(_build("xtc", "dwa").state_dict())
    assert not any(k.startswith("weighting.") for k in _build("sl").state_dict())


# -- X-task: mappings learned from labels, then frozen --------------------------------------------
def test_xtask_pretrains_its_mappings_on_labels_then_freezes_them():
    two = TASKS[:2]  # semantic and depth: two mappings
    model = _build("xtask", tasks=two)
    data = random_batch(two, 2, 32, 32, "full")
    hub = MessageHub.get_current_instance()
    try:
        for epoch, phase in ((0, "loss_map_pretrain"), (3, "loss_xtask")):
            hub.update_info("epoch", epoch)
            hub.update_info("max_epochs", 4)
            model.zero_grad()
            losses = model.loss(data["image"], data["labels"], data["label_mask"], data["view2"])
            assert set(k for k in losses if k.startswith("loss_")) == {"loss_sup", phase}
            losses[phase].backward()
            net = model.net.encoder_block[0][0].weight.grad
            maps = [p.grad for p in model.maps.parameters()]
            if epoch == 0:  # phase 1: only the mappings learn, from label pairs
                assert net is None and any(g is not None for g in maps)
            else:  # phase 2: the frozen mappings shape the network's gradient only
                assert net is not None and all(g is None for g in maps)
    finally:
        hub.update_info("epoch", None)
        hub.update_info("max_epochs", None)


# -- tables ---------------------------------------------------------------------------------------
def test_table_rows_read_method_plus_weighting_and_match_the_paper(tmp_path, capsys):
    rows = [("stl", "equal"), ("sl", "equal"), ("sl", "uncertainty"), ("sl", "dwa"),
            ("xtc", "equal"), ("xtc", "uncertainty"), ("sl", "upgrad"), ("mtan", "equal")]
    for method, weighting in rows:
        write_record(tmp_path, "nyuv2", method, "full", 0, metrics_of(30, 0.6, 30),
                     profile="paper", weighting=weighting)
    capsys.readouterr()
    assert main(["table", "--dataset", "nyuv2", "--results", str(tmp_path), "--paper",
                 "--format", "csv"]) == 0
    text = capsys.readouterr().out
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    frame = pd.read_csv(io.StringIO(body)).set_index(["regime", "method"])
    assert [m for _, m in frame.index] == ["stl", "sl", "sl+uncertainty", "sl+dwa", "sl+upgrad",
                                           "mtan", "xtc", "xtc+uncertainty"]
    paper = frame["semantic/mIoU paper"]
    assert paper[("full", "sl+uncertainty")] == pytest.approx(36.46)  # "Uncertainty" = MTL + it
    assert paper[("full", "sl+dwa")] == pytest.approx(36.46)
    assert paper[("full", "xtc")] == pytest.approx(41.00)
    assert paper[("full", "xtc+uncertainty")] == pytest.approx(41.09)
    assert paper[("full", "mtan")] == pytest.approx(39.39)
    assert paper[("full", "sl")] == pytest.approx(36.95)
    assert pd.isna(paper[("full", "sl+upgrad")])  # the paper has no UPGrad row
    assert main(["table", "--dataset", "nyuv2", "--results", str(tmp_path), "--format",
                 "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert "| Supervised Learning + DWA |" in markdown
    assert "| Cross-task (XTC) + Uncertainty |" in markdown
    assert main(["table", "--dataset", "nyuv2", "--results", str(tmp_path), "--methods",
                 "sl+dwa,xtc", "--format", "csv"]) == 0


# -- bad input, and the other commands of the grid --------------------------------------------------
@pytest.mark.parametrize("extra,expected", [
    (["--weighting", "dwaa"], "Did you mean 'dwa'?"),
    (["--methods", "sl+gradnrm"], "Did you mean 'gradnorm'?"),
    (["--weighting", "dwa", "--set", "weightings.dwa.temprature=3"],
     "Did you mean 'weightings.dwa.temperature'?"),
    (["--weighting", "dwa", "--set", "weightings.dwaa.temperature=3"], "Did you mean 'dwa'?"),
    (["--weighting", "cagrad", "--set", "weightings.cagrad.c=-1"], "c must be non-negative"),
    (["--weighting", "dwa", "--set", "weightings.dwa.temperature=0"], "temperature must be"),
])
def test_bad_weighting_input_exits_2_before_any_run(extra, expected, nyuv2_root, tmp_path,
                                                    capsys):
    results = tmp_path / "r"
    argv = ["run", "--methods", "sl", "--dataset", "nyuv2", "--profile", "smoke", "--jobs", "1",
            "--data-root", str(nyuv2_root), "--results", str(results), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err, err
    assert not list(results.rglob("record.json"))


def test_tune_refuses_weighted_rows_and_power_pairs_controls_under_the_same_weighting(capsys):
    from bench.grid.request import GridRequest, select
    from bench.report.power import control_row
    from bench.studies.power import power_specs, study_methods

    assert main(["tune", "--methods", "sl+dwa", "--dataset", "nyuv2", "--trials", "1"]) == 2
    assert "equal weights" in capsys.readouterr().err
    selection = select(GridRequest(dataset="nyuv2", methods="xtc", weighting="equal,dwa",
                                   regimes="onelabel", seeds="0,1", profile="smoke"))
    specs, methods = power_specs(selection), study_methods(selection)
    assert methods == ["xtc", "xtc+dwa", "sl+dwa"]
    assert {s.row for s in specs} == {"sl", "sl+dwa", "xtc", "xtc+dwa", "xtc-shuffled",
                                      "xtc-shuffled+dwa"}
    assert control_row("xtc+dwa", {"xtc": "xtc-shuffled"}) == "xtc-shuffled+dwa"
    assert control_row("sl+dwa", {"xtc": "xtc-shuffled"}) is None
