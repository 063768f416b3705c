"""Every method trains through the common runner on both synthetic sets, and resumes exactly."""

from __future__ import annotations

import math

import pytest
import torch

from bench.cli import main
from bench.engine import hooks as hooks_mod
from bench.records.store import iter_records
from bench.registry import method_info, method_names

pytestmark = pytest.mark.slow
ALL = method_names()
#: what each synthetic set runs (the geometric oracle needs normals, which Cityscapes lacks)
RUNS_ON = {"synthetic-nyuv2": ALL,
           "synthetic-cityscapes": [m for m in ALL if "normal" not in method_info(m).needs_tasks]}


@pytest.mark.parametrize("dataset", ["synthetic-nyuv2", "synthetic-cityscapes"])
def test_every_method_trains_with_finite_losses(dataset, synthetic_root, tmp_path):
    results = tmp_path / "res"
    methods = RUNS_ON[dataset]
    assert main(["run", "--methods", ",".join(methods), "--dataset", dataset, "--regimes",
                 "onelabel", "--seeds", "0", "--profile", "smoke", "--jobs", "1", "--set", "train.epochs=1",
                 "--no-table", "--data-root", str(synthetic_root), "--results",
                 str(results)]) == 0
    records = list(iter_records(results))
    assert sorted(r.method for r in records) == sorted(methods)
    for r in records:
        assert r.status == "ok", (r.method, r.error)
        train = r.history[-1]["train"]
        assert train and all(math.isfinite(v) for v in train.values())
        assert all(math.isfinite(v) for v in r.metrics.values() if v == v)
    losses = {r.method: r.history[-1]["train"] for r in records}
    assert "loss_xtc" in losses["xtc"] and "loss_ssl" in losses["ssl"]
    assert "disc_loss" in losses["discriminator"] and "loss_perceptual" in losses["perceptual_map"]


class _Stop(KeyboardInterrupt):
    pass


@pytest.mark.parametrize("method,groups", [("xtc", {"net", "film"}),
                                           ("discriminator", {"net", "film", "discriminator"})])
def test_multi_optimiser_methods_resume_exactly(method, groups, synthetic_root, tmp_path,
                                                monkeypatch):
    args = ["run", "--methods", method, "--dataset", "synthetic-nyuv2", "--regimes", "onelabel",
            "--seeds", "1", "--profile", "smoke", "--jobs", "1", "--set", "train.epochs=3", "--no-table",
            "--data-root", str(synthetic_root)]
    assert main([*args, "--results", str(tmp_path / "ref")]) == 0
    ref = next(iter_records(tmp_path / "ref"))

    original = hooks_mod.RunStateHook.before_train_epoch

    def stop_at_epoch_2(self, runner):
        if runner.epoch == 2:
            raise _Stop()
        original(self, runner)

    monkeypatch.setattr(hooks_mod.RunStateHook, "before_train_epoch", stop_at_epoch_2)
    assert main([*args, "--results", str(tmp_path / "cut")]) == 130
    ckpt = next((tmp_path / "cut").rglob("epoch_2.pth"))
    state = torch.load(ckpt, map_location="cpu", weights_only=True)  # safe loading works
    assert set(state["optimizer"]) == groups
    assert set(state["param_schedulers"]) == groups
    assert state["optimizer"]["net"]["state"]  # Adam moments were saved
    monkeypatch.setattr(hooks_mod.RunStateHook, "before_train_epoch", original)

    assert main([*args, "--results", str(tmp_path / "cut")]) == 0
    rec = next(iter_records(tmp_path / "cut"))
    assert rec.timing["resumed"] == 1
    assert rec.metrics == ref.metrics
    assert rec.history == ref.history
