"""The collapse probe: a mapping whose output no longer depends on its input is flagged."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from views import views

from bench.method.probe import (
    ADVANTAGE,
    ADVANTAGE_SQ,
    CHANCE,
    OWN,
    RETRIEVAL,
    ROLLED,
    joint_probe,
    merge_probes,
    negatives_probe,
    pairwise_probe,
)
from bench.records.collapse import collapse_reason, last_probe
from bench.registry import METHODS
from bench.tasks.depth import DepthTask
from bench.tasks.normal import NormalTask
from bench.tasks.semantic import SemanticTask

R, C, HW = 8, 6, (2, 4)


def healthy(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two sides that depend on their image: the target is the source plus a little noise."""
    g = torch.Generator().manual_seed(seed)
    source = torch.randn(R, C, *HW, generator=g)
    return source, source + 0.1 * torch.randn(R, C, *HW, generator=g)


def constant(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A collapsed mapping: the same output for every input."""
    g = torch.Generator().manual_seed(seed)
    out = torch.randn(1, C, *HW, generator=g).expand(R, -1, -1, -1)
    return out, out + 1e-4 * torch.randn(R, C, *HW, generator=g)


def test_joint_probe_of_a_healthy_mapping():
    source, target = healthy(0)
    pair, image = torch.zeros(R, dtype=torch.long), torch.arange(R)
    p = joint_probe(source, target, pair, image)
    assert float(p[ADVANTAGE]) > 0.5 and float(p[RETRIEVAL]) == 1.0
    assert float(p[CHANCE]) == pytest.approx(1 / R)
    assert float(p[ADVANTAGE]) == pytest.approx(float(p[ROLLED] - p[OWN]))
    assert float(p[ADVANTAGE_SQ]) == pytest.approx(float(p[ADVANTAGE]) ** 2)


def test_joint_probe_of_a_constant_mapping():
    source, target = constant(0)
    p = joint_probe(source, target, torch.zeros(R, dtype=torch.long), torch.arange(R))
    assert abs(float(p[ADVANTAGE])) < 1e-6


def test_joint_probe_compares_rows_of_one_pair_and_other_images_only():
    source, target = healthy(1)
    # two pairs of four rows; rows 0 and 1 are the same image
    pair = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    image = torch.tensor([0, 0, 1, 2, 0, 1, 2, 3])
    p = joint_probe(source, target, pair, image)
    unit_s = F.normalize(source, dim=1).flatten(1)
    unit_t = F.normalize(target, dim=1).flatten(1)
    pixels = HW[0] * HW[1]
    own, rolled = [], []
    for r in range(R):
        others = [j for j in range(R) if pair[j] == pair[r] and image[j] != image[r]]
        own.append(1 - float(unit_s[r] @ unit_t[r]) / pixels)
        rolled.append(sum(1 - float(unit_s[r] @ unit_t[j]) / pixels for j in others)
                      / len(others))
    assert float(p[OWN]) == pytest.approx(sum(own) / R, rel=1e-5)
    assert float(p[ROLLED]) == pytest.approx(sum(rolled) / R, rel=1e-5)
    # a pair with one image says nothing
    assert joint_probe(source[:2], target[:2], pair[:2], image[:2]) == {}


def test_negatives_probe():
    b = 5
    g = torch.Generator().manual_seed(2)
    sources = torch.randn(1, b, C, *HW, generator=g)
    image = torch.arange(b)
    target = sources[0] + 0.1 * torch.randn(b, C, *HW, generator=g)
    p = negatives_probe(target, sources, torch.zeros(b, dtype=torch.long), image)
    assert float(p[ADVANTAGE]) > 0.5 and float(p[RETRIEVAL]) == 1.0
    flat = sources[:, :1].expand(-1, b, -1, -1, -1)
    p = negatives_probe(target, flat, torch.zeros(b, dtype=torch.long), image)
    assert abs(float(p[ADVANTAGE])) < 1e-6


def test_pairwise_probe():
    task = DepthTask()
    g = torch.Generator().manual_seed(3)
    labels = torch.rand(4, 1, 8, 8, generator=g) + 0.5
    own, rolled = pairwise_probe(task, labels.clone(), labels, torch.arange(4), torch.arange(4))
    assert (own == 0).all() and (rolled > 0).all()
    merged = merge_probes([(own, rolled)])
    assert float(merged[ADVANTAGE]) > 0
    same = labels.mean(0, keepdim=True).expand(4, -1, -1, -1)
    own, rolled = pairwise_probe(task, same, same.clone(), torch.arange(4), torch.arange(4))
    assert float(merge_probes([(own, rolled)])[ADVANTAGE]) == 0


def history_of(steps: list[dict[str, torch.Tensor]], epoch: int = 3) -> list[dict]:
    """The history entry the run-state hook writes: each logged value's epoch mean, and the
    number of steps that logged the probe."""
    keys = steps[0].keys()
    train = {k: sum(float(s[k]) for s in steps) / len(steps) for k in keys}
    return [{"epoch": epoch - 1, "train": {"loss": 1.0}},
            {"epoch": epoch, "train": train, "train_n": {k: len(steps) for k in keys}}]


def test_collapse_reason_flags_a_constant_mapping_and_passes_a_healthy_one():
    pair, image = torch.zeros(R, dtype=torch.long), torch.arange(R)
    good = history_of([joint_probe(*healthy(s), pair, image) for s in range(10)])
    bad = history_of([joint_probe(*constant(s), pair, image) for s in range(10)])
    assert collapse_reason(good) == ""
    reason = collapse_reason(bad)
    assert "collapsed mapping" in reason and "epoch 3" in reason and "10 steps" in reason
    assert last_probe(bad)["n"] == 10


def test_collapse_reason_needs_the_probe():
    assert collapse_reason([{"epoch": 1, "train": {"loss": 1.0}}]) == ""
    assert collapse_reason([]) == ""


TASKS = [SemanticTask(5), DepthTask(), NormalTask()]
MASK = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1]] * 2, dtype=torch.bool)


def xtc_batch(seed: int):
    g = torch.Generator().manual_seed(seed)
    b, h, w = MASK.shape[0], 32, 32
    preds = {"semantic": torch.randn(b, 5, h, w, generator=g),
             "depth": torch.rand(b, 1, h, w, generator=g) + 0.1,
             "normal": F.normalize(torch.randn(b, 3, h, w, generator=g), dim=1)}
    labels = {"semantic": torch.randint(0, 5, (b, h, w), generator=g),
              "depth": torch.rand(b, 1, h, w, generator=g) + 0.1,
              "normal": F.normalize(torch.randn(b, 3, h, w, generator=g), dim=1)}
    return preds, labels


@pytest.mark.parametrize("name", ["xtc", "contrastive", "discriminator", "direct_map",
                                  "perceptual_map"])
def test_every_cross_task_method_logs_the_probe(name):
    torch.manual_seed(0)
    model = METHODS.build({"type": name, "tasks": TASKS, "width": 0.0625})
    preds, labels = xtc_batch(0)
    feature = torch.randn(MASK.shape[0], model.net.filters[-1], 1, 1)
    out = model.extra_losses(views(MASK, preds, labels, feature))
    assert {OWN, ROLLED, ADVANTAGE, ADVANTAGE_SQ} <= set(out)
    assert all(not v.requires_grad for k, v in out.items() if k.startswith("probe_"))


def test_xtc_with_a_constant_mapping_is_flagged(monkeypatch):
    torch.manual_seed(0)
    model = METHODS.build({"type": "xtc", "tasks": TASKS, "width": 0.0625})
    fixed = {}

    def forward(inputs, task, pair):  # noqa: ANN001, ANN202 - the mapping's signature
        rows = sum(x.shape[0] for x in inputs if x is not None)
        out = fixed.setdefault("out", torch.randn(1, model.mapping.out_channels, 1, 1))
        return out.expand(rows, -1, -1, -1) + 1e-6 * torch.randn(rows, *out.shape[1:])

    monkeypatch.setattr(model.mapping, "forward", forward)
    steps = []
    for seed in range(6):
        preds, labels = xtc_batch(seed)
        feature = torch.randn(MASK.shape[0], model.net.filters[-1], 1, 1)
        steps.append(model.extra_losses(views(MASK, preds, labels, feature)))
    assert "collapsed mapping" in collapse_reason(history_of(
        [{k: v for k, v in s.items() if k.startswith("probe_")} for s in steps]))


CONSTANT_PLUGIN = '''
import torch
from bench.metadata import MethodInfo
from bench.registry import register_method
from methods.xtc import CrossTaskConsistency


@register_method("xtc-constant", MethodInfo(
    summary="XTC with a constant mapping (a test)", display="XTC constant", short="XTC-c",
    family="xtc", colour="#000000", order=99, in_all=False))
class ConstantXTC(CrossTaskConsistency):
    def __init__(self, tasks, **kwargs):
        super().__init__(tasks, **kwargs)
        # a collapsed mapping: one learnt output for every input (its FiLM layers unused)
        self.constant = torch.nn.Parameter(torch.randn(1, self.mapping.out_channels, 1, 1))
        self.mapping.forward = self.constant_forward

    def mapped_pairs(self, *args, **kwargs):
        return None  # no visuals of the stages of a mapping that is not used

    def constant_forward(self, inputs, task, pair):
        x = next(x for x in inputs if x is not None)
        rows = sum(x.shape[0] for x in inputs if x is not None)
        h, w = max(x.shape[-2] // 32, 1), max(x.shape[-1] // 32, 1)
        return self.constant.expand(rows, -1, h, w)
'''


@pytest.mark.slow
def test_a_run_with_a_constant_mapping_is_recorded_collapsed(tmp_path, monkeypatch,
                                                             synthetic_root, capsys):
    import sys

    from bench.cli import main
    from bench.records.store import iter_records
    from bench.registry import unregister

    path = tmp_path / "constant_plugin.py"
    path.write_text(CONSTANT_PLUGIN)
    monkeypatch.setenv("BENCH_PLUGINS", str(path))
    METHODS.rediscover()
    try:
        results = tmp_path / "res"
        common = ["--dataset", "synthetic-nyuv2", "--regimes", "onelabel", "--seeds", "0",
                  "--profile", "smoke", "--set", "train.collapse_check=true", "--data-root",
                  str(synthetic_root), "--results", str(results)]
        assert main(["run", "--methods", "sl,xtc-constant", "--jobs", "1", "--no-table",
                     *common]) == 0
        status = {r.method: r for r in iter_records(results)}
        assert status["xtc-constant"].status == "collapsed"
        assert "collapsed mapping" in status["xtc-constant"].error["message"]
        assert status["xtc-constant"].metrics  # finished: its numbers are kept, not scored
        assert status["sl"].status == "ok"
        capsys.readouterr()
        assert main(["status", "--methods", "sl,xtc-constant", *common]) == 0
        assert "collapsed" in capsys.readouterr().out
        assert main(["table", "--methods", "sl,xtc-constant", *common]) == 0
        assert "xtc-constant @ onelabel: 1 collapsed run(s) left out" in capsys.readouterr().out
        # finished: a rerun does not train it again
        before = status["xtc-constant"].finished_at
        assert main(["run", "--methods", "xtc-constant", "--jobs", "1", "--no-table",
                     *common]) == 0
        again = [r for r in iter_records(results) if r.method == "xtc-constant"]
        assert len(again) == 1 and again[0].finished_at == before
    finally:
        unregister(METHODS, "xtc-constant")
        sys.modules.pop("bench_plugin_constant_plugin", None)


def probe_history(advantage: float, spread: float, steps: int = 20) -> list[dict]:
    """A record history whose last epoch logged the probe with this mean and per-step spread."""
    train = {OWN: 0.2, ROLLED: 0.2 + advantage, ADVANTAGE: advantage,
             ADVANTAGE_SQ: advantage ** 2 + spread ** 2, RETRIEVAL: 0.5, CHANCE: 0.125}
    first = dict(train, **{ADVANTAGE: 0.05})
    return [{"epoch": 1, "train": first, "train_n": {ADVANTAGE: steps}},
            {"epoch": 2, "train": train, "train_n": {ADVANTAGE: steps}}]


def test_bench_probe_shows_the_probe_and_no_metric(tmp_path, capsys):
    from records import metrics_of, write_record

    from bench.cli import main

    m = metrics_of(41.234, 0.5, 20.0)
    for seed in range(3):
        write_record(tmp_path, "nyuv2", "xtc", "onelabel", seed, m,
                     history=probe_history(0.05, 0.01))
        write_record(tmp_path, "nyuv2", "contrastive", "onelabel", seed, m,
                     history=probe_history(0.0001, 0.01), status="collapsed")
        write_record(tmp_path, "nyuv2", "xtc-shuffled", "onelabel", seed, m,
                     history=probe_history(0.0, 0.01))
        write_record(tmp_path, "nyuv2", "sl", "onelabel", seed, m)
    assert main(["probe", "--dataset", "nyuv2", "--results", str(tmp_path), "--profile",
                 "quick", "--out", str(tmp_path / "probe.md")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "xtc@onelabel: not collapsed in any of 3 seeds" in out
    assert "contrastive@onelabel: COLLAPSED (within noise) in 3 of 3 seeds" in out
    assert "3 recorded as collapsed" in out
    assert "xtc-shuffled@onelabel (a negative control" in out
    assert "41.2" not in out and "mIoU" not in out  # no metric is read
    assert "sl@" not in out  # SL logs no probe
    assert "| onelabel | xtc | 3 | 2 |" in (tmp_path / "probe.md").read_text()


def test_bench_probe_without_probed_runs_says_so(tmp_path, capsys):
    from records import metrics_of, write_record

    from bench.cli import main

    write_record(tmp_path, "nyuv2", "sl", "onelabel", 0, metrics_of(40, 0.5, 20))
    assert main(["probe", "--dataset", "nyuv2", "--results", str(tmp_path)]) == 2
    assert "logged a collapse probe" in capsys.readouterr().err
