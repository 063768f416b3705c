"""A run's identity is complete: every option with its default, validated before anything runs."""

from __future__ import annotations

import dataclasses
import inspect
import json
import shutil

import pytest

from bench.cli import main
from bench.config.profiles import find_profile, parse_overrides
from bench.config.runspec import RunSpec, config_hash, resolve
from bench.data.nyuv2 import NYUv2
from bench.errors import BenchError
from bench.method.base import PartialLabelMethod
from bench.method.crosstask import PairwiseMappingMethod
from bench.registry import method_class, method_defaults, method_names


@pytest.fixture(scope="module")
def layout(nyuv2_root):
    return NYUv2.check_layout(nyuv2_root / "nyuv2")


def spec(method: str, *overrides: str, profile: str = "smoke") -> RunSpec:
    found = find_profile(profile)
    return RunSpec(method, "nyuv2", "onelabel", 0, found.id, tuple(parse_overrides(overrides)),
                   found.source)


@pytest.mark.parametrize("method", method_names())
def test_every_constructor_option_is_in_the_config(method, layout):
    options = resolve(spec(method), layout)["method"]["options"]
    assert set(method_defaults(method)) <= set(options)
    assert set(method_defaults(method)) == {f.name for f in
                                            dataclasses.fields(method_class(method).Options)}
    # what the engine fills in from the config's other sections is never a method option
    engine = set(inspect.signature(PartialLabelMethod.__init__).parameters) - {"self", "options"}
    assert engine == {"tasks", "width", "weighting", "reduction", "arch", "pretrained", "stages",
                      "camera"}
    assert not engine & set(options)


def test_a_changed_default_changes_the_hash(layout, monkeypatch):
    """Editing a default (here Direct-Map's consistency weight, which no profile sets) must not
    leave old runs "already finished"."""
    before = config_hash(resolve(spec("direct_map"), layout))
    field = next(f for f in dataclasses.fields(PairwiseMappingMethod.Options)
                 if f.name == "con_weight")
    monkeypatch.setattr(field, "default", 0.25)
    after = resolve(spec("direct_map"), layout)
    assert after["method"]["options"]["con_weight"] == 0.25
    assert config_hash(after) != before


@pytest.mark.parametrize("method,option,value", [
    ("direct_map", "con_weight", 1.5), ("perceptual_map", "con_weight", 0.5),
    ("contrastive", "margin", 0.25), ("discriminator", "con_weight", 0.75),
    ("ssl", "crop_scales", [1.1, 1.3])])
def test_options_that_were_once_missing_move_the_hash(method, option, value, layout):
    base = resolve(spec(method), layout)
    changed = resolve(spec(method, f"methods.{method}.{option}={json.dumps(value)}"), layout)
    assert changed["method"]["options"][option] == value
    assert config_hash(base) != config_hash(changed)


def test_loss_reduction_and_selection_are_in_the_hash(layout):
    base = config_hash(resolve(spec("xtc"), layout))
    assert resolve(spec("xtc"), layout)["train"]["loss_reduction"] == "official"
    assert config_hash(resolve(spec("xtc", "train.loss_reduction=paper"), layout)) != base
    assert config_hash(resolve(spec("xtc", "train.selection=best-val"), layout)) != base


@pytest.mark.parametrize("setting,message", [
    ("train.epoch=3", "Did you mean 'train.epochs'?"),
    ("train.epochs=abc", "train.epochs='abc' is not valid: expected an integer"),
    ("train.epochs=0", "expected an integer ≥ 1"),
    ("methods.xtc.con_wieght=1", "Did you mean 'methods.xtc.con_weight'?"),
    ("methods.xtc.cond=yes", "expected true or false"),
    ("methods.xtc.weighting=uncertainty", "no longer a method option"),
    ("weightings.dwa.temperatur=3", "Did you mean 'weightings.dwa.temperature'?"),
    ("weightings.dwaa.temperature=3", "Unknown weighting"),
    ("weightings.gradnorm.alpha=high", "expected a finite number"),
    ("methods.xtcc.con_weight=1", "Unknown method or method family"),
    ("train.optimizer.lrr=0.1", "Did you mean 'train.optimizer.lr'?"),
    ("train.optimizer.type=Adamm", "Did you mean 'Adam'?"),
    ("train.loss_reduction=sum", "one of official, paper"),
    ("train.selection=best", "one of last, best-val, best-test"),
    ("data.val_fraction=1.5", "expected a finite number ≥ 0 and < 1"),
    ("data.size=[30,64]", "divisible by 32"),
    ("train=3", "'train' is a section"),
])
def test_bad_settings_exit_2_while_planning(setting, message, nyuv2_root, tmp_path, capsys):
    code = main(["run", "--methods", "sl,xtc", "--dataset", "nyuv2", "--profile", "smoke",
                 "--set", setting, "--data-root", str(tmp_path / "no-data-here"),
                 "--results", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()  # nothing planned, nothing run


def test_best_val_needs_a_validation_split(layout):
    with pytest.raises(BenchError, match="needs a validation split"):
        resolve(spec("sl", "train.selection=best-val", "data.val_fraction=0"), layout)


def test_a_profile_file_is_identified_by_content_not_path(tmp_path, layout, monkeypatch):
    a = tmp_path / "a" / "tuned.json"
    a.parent.mkdir()
    shutil.copy(find_profile("smoke").source, a)
    b = tmp_path / "b" / "tuned.json"
    b.parent.mkdir()
    shutil.copy(a, b)
    monkeypatch.chdir(tmp_path)
    ids = {find_profile(p).id for p in (str(a), "a/tuned.json", "./a/../a/tuned.json", str(b))}
    assert len(ids) == 1 and next(iter(ids)).startswith("tuned-")
    hashes = {config_hash(resolve(spec("sl", profile=p), layout)) for p in (str(a), str(b))}
    assert len(hashes) == 1
    b.write_text(b.read_text().replace('"epochs": 2', '"epochs": 3'))
    assert find_profile(str(b)).id != find_profile(str(a)).id


def test_a_set_override_wins_over_the_profiles_dataset_section():
    """``quick`` sets PASCAL's size and epochs in its ``datasets.pascal_context`` section; a
    ``--set`` of the same keys must still take effect (it once was silently ignored there)."""
    from bench.config.profiles import resolve_profile

    keys = ("pascal_context", "synthetic-pascal")
    plain = resolve_profile(find_profile("quick"), keys)
    assert plain["data"]["size"] == [128, 128] and plain["train"]["epochs"] == 12
    over = resolve_profile(find_profile("quick"), keys,
                           parse_overrides(["data.size=[96,96]", "train.epochs=3"]))
    assert over["data"]["size"] == [96, 96] and over["train"]["epochs"] == 3
    aimed = resolve_profile(find_profile("quick"), keys,
                            parse_overrides(["datasets.pascal_context.train.epochs=5"]))
    assert aimed["train"]["epochs"] == 5
