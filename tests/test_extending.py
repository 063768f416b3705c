"""The four recipes of ``docs/extending.md``, each run from a temporary module.

The code of every recipe is read from the page itself and loaded through ``$BENCH_PLUGINS``, so
the page cannot drift from the code: a method, a task, a weighting and a dataset, each one
file, found by the registry and usable without any other change.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import torch
from layouts import write_nyuv2

from bench.cli import main
from bench.config.profiles import find_profile, parse_overrides
from bench.config.rows import cross_weightings, parse_weightings
from bench.config.runspec import RunSpec, config_hash, resolve
from bench.data.nyuv2 import NYUv2
from bench.registry import (
    DATASETS,
    METHODS,
    TASKS,
    WEIGHTINGS,
    get_dataset,
    method_defaults,
    method_info,
    method_names,
    task_class,
    unregister,
    weighting_defaults,
    weighting_names,
)
from bench.studies.perf import random_batch
from bench.weightings import TaskLosses, build_weighting, loss_matrix

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"


def recipe(heading: str) -> str:
    """The code block under ``## heading`` of the page."""
    text = DOC.read_text()
    section = text.split(f"## {heading}\n", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.fixture()
def plugin(tmp_path, monkeypatch):
    """Load a recipe as a ``$BENCH_PLUGINS`` file; forget what it registered afterwards."""
    loaded: list[tuple[object, str, str]] = []

    def load(heading: str, registry, name: str) -> None:
        path = tmp_path / f"recipe_{len(loaded)}.py"
        path.write_text(recipe(heading))
        monkeypatch.setenv("BENCH_PLUGINS", str(path))
        registry.rediscover()
        loaded.append((registry, name, f"bench_plugin_{path.stem}"))

    yield load
    for registry, name, module in loaded:
        unregister(registry, name)
        sys.modules.pop(module, None)


@pytest.fixture(scope="module")
def layout(nyuv2_root):
    return NYUv2.check_layout(nyuv2_root / "nyuv2")


def test_a_method_is_one_file(plugin, layout):
    plugin("A method", METHODS, "my_method")
    assert "my_method" in method_names()
    assert method_info("my_method").display == "My Method"
    assert method_defaults("my_method") == {"weight": 1e-3}
    tasks = NYUv2.build_tasks()
    model = METHODS.build({"type": "my_method", "tasks": tasks, "width": 0.0625})
    batch = random_batch(tasks, 2, 32, 32, "onelabel", 0)
    losses = model.loss(batch["image"], batch["labels"], batch["label_mask"], None)
    assert losses["loss_mine"] > 0 and "loss_sup" in losses
    found = find_profile("smoke")
    base = resolve(RunSpec("my_method", "nyuv2", "onelabel", 0, found.id), layout)
    changed = resolve(RunSpec("my_method", "nyuv2", "onelabel", 0, found.id,
                              tuple(parse_overrides(["methods.my_method.weight=0.01"]))), layout)
    assert base["method"]["options"] == {"weight": 1e-3}
    assert changed["method"]["options"] == {"weight": 0.01}
    assert config_hash(base) != config_hash(changed)


def test_a_task_is_one_file(plugin):
    from bench.tasks.semantic import SemanticTask

    plugin("A task", TASKS, "bright")
    bright = task_class("bright")()
    tasks = (SemanticTask(3), bright)
    model = METHODS.build({"type": "xtc", "tasks": tasks, "width": 0.0625})
    batch = random_batch(tasks, 2, 32, 32, "full", 0)
    losses = model.loss(batch["image"], batch["labels"], batch["label_mask"], batch["view2"])
    assert torch.isfinite(losses["loss_sup"]) and torch.isfinite(losses["loss_xtc"])
    metric = bright.build_metric()
    pred = torch.randn(2, 1, 32, 32)
    metric.process({"labels": {"bright": batch["labels"]["bright"]}},
                   [{"bright": bright.metric_prediction(pred[i:i + 1])[0]} for i in range(2)])
    assert 0 <= metric.compute_metrics(metric.results)["mIoU"] <= 100


def test_a_weighting_is_one_file(plugin, layout):
    plugin("A weighting", WEIGHTINGS, "fixed")
    assert "fixed" in weighting_names() and weighting_defaults("fixed") == {"first": 2.0}
    assert parse_weightings("fixed") == ["fixed"]
    assert cross_weightings(["sl"], ["fixed"])[0] == ["sl+fixed"]
    tasks = NYUv2.build_tasks()
    batch = random_batch(tasks, 4, 32, 32, "full", 0)
    preds = {t.name: t.activate(torch.randn(4, t.channels, 32, 32)) for t in tasks}
    mask = batch["label_mask"]
    losses = TaskLosses(loss_matrix(tasks, preds, batch["labels"], mask), mask, "official")
    per_task = losses.per_task()
    got = build_weighting({"name": "fixed", "options": {"first": 3.0}}, 3).loss(losses, None)
    assert torch.allclose(got, 3.0 * per_task[0] + per_task[1] + per_task[2])
    found = find_profile("smoke")
    spec = RunSpec("sl", "nyuv2", "onelabel", 0, found.id,
                   tuple(parse_overrides(["weightings.fixed.first=3"])), weighting="fixed")
    assert resolve(spec, layout)["weighting"] == {"name": "fixed", "options": {"first": 3}}


def test_a_dataset_is_one_file(plugin, tmp_path, capsys):
    plugin("A dataset", DATASETS, "tiny-nyu")
    ds = get_dataset("tiny-nyu")
    assert [t.name for t in ds.build_tasks()] == ["semantic", "depth"]
    write_nyuv2(tmp_path / "data" / "tiny-nyu", n_train=8, n_val=4, h=32, w=32)
    assert ds.check_layout(tmp_path / "data" / "tiny-nyu").sizes == {"train": 8, "val": 4}
    folders = ["--data-root", str(tmp_path / "data"), "--results", str(tmp_path / "res")]
    assert main(["data", "check", "--dataset", "tiny-nyu", *folders]) == 0
    assert main(["run", "--dataset", "tiny-nyu", "--methods", "sl,xtc", "--dry-run",
                 *folders]) == 0
    err = capsys.readouterr().err
    assert "3 runs" in err and "runs/tiny-nyu/onelabel/xtc" in err  # sl: onelabel, full
