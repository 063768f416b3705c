"""``train.amp`` and ``model.channels_last``: in the schema and the identity, autocast on the CPU,
the shared loss scaler of a joint step, and smoke runs that train with them."""

from __future__ import annotations

import math

import pytest
import torch
from mmengine.optim import OptimWrapper, OptimWrapperDict

from bench.cli import main
from bench.config.profiles import find_profile, parse_overrides, resolve_profile
from bench.config.runspec import RunSpec, config_hash, resolve
from bench.engine.precision import CpuAutocastOptimWrapper, check_amp, make_optim_wrapper
from bench.errors import BenchError
from bench.method.base import joint_step
from bench.records.store import iter_records
from bench.registry import METHODS, get_dataset
from bench.studies.perf import random_batch

TASKS = get_dataset("synthetic-nyuv2").build_tasks()


@pytest.fixture
def layout(nyuv2_root):
    return get_dataset("nyuv2").check_layout(nyuv2_root / "nyuv2")


def _spec(*sets: str) -> RunSpec:
    return RunSpec("sl", "nyuv2", "onelabel", 0, "smoke", tuple(parse_overrides(list(sets))))


def _hash(layout, *sets: str) -> str:
    return config_hash(resolve(_spec(*sets), layout))


def test_defaults_leave_the_identity_unchanged_and_settings_change_it(layout):
    plain = _hash(layout)
    for sets in ((), ("train.amp=off", "model.channels_last=false")):
        config = resolve(_spec(*sets), layout)  # as before the keys existed
        assert "amp" not in config["train"] and "channels_last" not in config["model"]
    assert _hash(layout, "train.amp=bf16") != plain
    assert _hash(layout, "model.channels_last=true") != plain
    config = resolve(_spec("train.amp=bf16", "model.channels_last=true"), layout)
    assert config["train"]["amp"] == "bf16" and config["model"]["channels_last"] is True


@pytest.mark.parametrize("setting", ["train.amp=bf32", "train.amp=1", "model.channels_last=1"])
def test_bad_values_are_refused(setting):
    with pytest.raises(BenchError):
        resolve_profile(find_profile("smoke"), ["synthetic-nyuv2"], parse_overrides([setting]))


def test_fp16_on_the_cpu_is_refused_before_any_run(nyuv2_root, tmp_path, capsys):
    code = main(["run", "--methods", "sl", "--dataset", "nyuv2", "--regimes",
                 "onelabel", "--seeds", "0", "--profile", "smoke", "--set", "train.amp=fp16",
                 "--data-root", str(nyuv2_root), "--results", str(tmp_path / "r")])
    assert code == 2
    assert "fp16 needs a CUDA GPU" in capsys.readouterr().err
    with pytest.raises(BenchError):
        check_amp("fp16", "cpu")


def test_cpu_bf16_autocasts_the_forward_and_keeps_float32_parameters():
    torch.manual_seed(0)
    model = METHODS.build({"type": "xtc", "tasks": TASKS, "width": 0.125}).train()
    wrappers = OptimWrapperDict(**{k: make_optim_wrapper(torch.optim.Adam(v, lr=1e-3), "bf16",
                                                         "cpu")
                                   for k, v in model.optim_groups().items()})
    assert all(isinstance(w, CpuAutocastOptimWrapper) for w in wrappers.values())
    seen = []
    conv = model.net.encoder_block[0][0]
    handle = conv.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    log = model.train_step(random_batch(TASKS, 4, 64, 64, "onelabel"), wrappers)
    handle.remove()
    assert seen == [torch.bfloat16]
    assert all(math.isfinite(float(v.detach())) for v in log.values())
    assert all(p.dtype == torch.float32 for p in model.parameters())
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert any("mapping" in k and k.endswith(".gamma") for k in changed)  # FiLM group stepped


def _gradient(data: dict, mode: str) -> torch.Tensor:
    torch.manual_seed(0)
    model = METHODS.build({"type": "sl", "tasks": TASKS, "width": 0.125}).train()
    data = model.data_preprocessor(data, True)
    if mode == "channels_last":
        model.use_channels_last()
        assert model.net.encoder_block[0][0].weight.is_contiguous(
            memory_format=torch.channels_last)
    if mode == "float64":
        model.double()
        data = {**data, "image": data["image"].double(),
                "labels": {k: v.double() if v.is_floating_point() else v
                           for k, v in data["labels"].items()}}
    losses = model(**data, mode="loss")
    sum(v for k, v in losses.items() if "loss" in k).backward()
    return torch.cat([p.grad.double().flatten() for p in model.parameters()
                      if p.grad is not None])


def test_channels_last_is_as_close_to_float64_as_float32_is():
    """The SegNet's gradient at initialisation is ill-conditioned (float32 itself is ~1 % off
    float64 in the first layers), so the layouts are compared through float64."""
    data = random_batch(TASKS, 4, 64, 64, "onelabel")
    exact = _gradient(data, "float64")
    plain = (_gradient(data, "float32") - exact).norm()
    nhwc = (_gradient(data, "channels_last") - exact).norm()
    assert nhwc <= 3 * plain + 1e-9, (float(nhwc), float(plain))
    assert nhwc < 0.05 * exact.norm()


class _Scaled:
    """What :func:`joint_step` reads of an ``AmpOptimWrapper``: its optimiser and scaler."""

    def __init__(self, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler) -> None:
        self.optimizer = optimizer
        self.loss_scaler = scaler

    def zero_grad(self) -> None:
        self.optimizer.zero_grad()


def test_a_joint_step_under_loss_scaling_shares_one_scale():
    a, b = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2))
    ref_a, ref_b = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2))
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    joint_step([_Scaled(torch.optim.SGD([a], lr=0.1), scaler),
                _Scaled(torch.optim.SGD([b], lr=0.1), torch.amp.GradScaler("cpu", init_scale=2.0))],
               (a * 2).sum() + (b * 3).sum())
    ref = [OptimWrapper(torch.optim.SGD([ref_a], lr=0.1)),
           OptimWrapper(torch.optim.SGD([ref_b], lr=0.1))]
    joint_step(ref, (ref_a * 2).sum() + (ref_b * 3).sum())
    torch.testing.assert_close(a, ref_a)
    torch.testing.assert_close(b, ref_b)  # unscaled with the first wrapper's scale, not 2.0
    assert a.grad is None or not a.grad.any()


@pytest.mark.slow
@pytest.mark.parametrize("setting", ["train.amp=bf16", "model.channels_last=true"])
def test_a_smoke_run_trains_with_finite_metrics(setting, synthetic_root, tmp_path):
    results = tmp_path / "res"
    assert main(["run", "--methods", "sl,xtc", "--dataset", "synthetic-nyuv2", "--regimes",
                 "onelabel", "--seeds", "0", "--profile", "smoke", "--jobs", "1", "--set",
                 "train.epochs=1", "--set", setting, "--no-table", "--data-root",
                 str(synthetic_root), "--results", str(results)]) == 0
    records = list(iter_records(results))
    assert sorted(r.method for r in records) == ["sl", "xtc"]
    key, value = setting.split("=")
    section, name = key.split(".")
    for r in records:
        assert r.status == "ok", r.error
        assert str(r.config[section][name]).lower() == value
        assert r.metrics and all(math.isfinite(v) for v in r.metrics.values())
        assert all(math.isfinite(v) for v in r.history[-1]["train"].values())
