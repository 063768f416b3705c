"""The validation subset, the label mask of the remaining images, and the epoch selection rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from records import metrics_of, write_record

from bench.cli import main
from bench.engine.build import build_dataloaders, training_split
from bench.engine.evaluation import gain, improves, select_epoch
from bench.labels.regimes import parse_regime, training_mask
from bench.labels.validation import carve_validation, validation_size
from bench.records.store import iter_records
from bench.registry import get_dataset
from bench.report.query import TableRequest, build_summary
from bench.report.view import build_view

TASKS = get_dataset("nyuv2").build_tasks()


@pytest.mark.parametrize("n,fraction,expected", [(795, 0.1, 80), (16, 0.1, 2), (10, 0.01, 1),
                                                 (10, 0.0, 0), (1, 0.5, 0), (3, 0.9, 2)])
def test_validation_size(n, fraction, expected):
    assert validation_size(n, fraction) == expected


def test_split_is_seeded_disjoint_and_complete():
    a = carve_validation(100, 0.1, 0)
    assert len(a.validation) == 10 and len(a.train) == 90
    assert not set(a.train) & set(a.validation)
    assert sorted([*a.train, *a.validation]) == list(range(100))
    assert np.array_equal(a.validation, carve_validation(100, 0.1, 0).validation)
    assert not np.array_equal(a.validation, carve_validation(100, 0.1, 1).validation)
    assert a.summary()["sha256"] == carve_validation(100, 0.1, 0).summary()["sha256"]


def test_official_split_file_loses_the_rows_of_validation_images():
    split = carve_validation(795, 0.1, 0)
    names = [t.name for t in TASKS]
    full = parse_regime("file:nyuv2_onelabel.pth").mask(795, names, 0)
    mask = training_mask(parse_regime("file:nyuv2_onelabel.pth"), split.train, 795, names, 0)
    assert mask.shape == (715, 3)
    assert np.array_equal(mask, full[split.train])
    assert mask.sum() == 715  # still one label per trained image
    assert mask.sum(0).tolist() == full[split.train].sum(0).tolist()


def test_generated_regime_covers_only_the_trained_images():
    split = carve_validation(30, 0.2, 0)
    mask = training_mask(parse_regime("onelabel"), split.train, 30, [t.name for t in TASKS], 3)
    assert mask.shape == (24, 3) and (mask.sum(1) == 1).all()


def test_no_validation_image_is_ever_trained_on(nyuv2_root):
    config = {"execution": {"data_root": str(nyuv2_root / "nyuv2"), "num_workers": 0},
              "dataset": {"size": [64, 64], "images": {"train": 16, "test": 8}},
              "seed": 0, "train": {"batch_size": 4, "augment": True}, "eval": {"batch_size": 4},
              "validation": {"fraction": 0.25, "seed": 0}}
    split = training_split(config)
    mask = np.ones((len(split.train), 3), bool)
    loaders = build_dataloaders(get_dataset("nyuv2"), config, split, mask, True)
    seen = set()
    for epoch in range(3):
        loaders.train.sampler.set_epoch(epoch)
        for batch in loaders.train:
            seen |= set(batch["index"].tolist())
    validated = {int(i) for b in loaders.validation for i in b["index"]}
    assert seen == set(split.train.tolist()) and validated == set(split.validation.tolist())
    assert not seen & validated
    tested = {int(i) for b in loaders.test for i in b["index"]}
    assert tested == set(range(8)) and loaders.test.dataset.split == "val"


def m(miou: float, abserr: float, mean: float) -> dict[str, float]:
    return {"semantic/mIoU": miou, "depth/absErr": abserr, "normal/mean": mean}


def test_gain_signs_and_the_selection_rule():
    assert gain(m(22, 1.0, 30), m(20, 1.0, 30), TASKS) == pytest.approx(10 / 3)
    assert gain(m(20, 0.9, 30), m(20, 1.0, 30), TASKS) == pytest.approx(10 / 3)  # lower error
    assert improves(m(20, 1.0, 30), None, TASKS)
    assert not improves(m(19, 1.0, 30), m(20, 1.0, 30), TASKS)
    history = [{"epoch": 1, "metrics": m(10, 1.0, 40)}, {"epoch": 2, "metrics": m(20, 0.8, 35)},
               {"epoch": 3, "train": {}}, {"epoch": 4, "metrics": m(19, 0.8, 35)}]
    assert select_epoch(history, "metrics", TASKS) == 2
    assert select_epoch(history, "test", TASKS) is None


def test_tables_mark_rows_selected_on_test_and_name_the_protocol(tmp_path):
    for seed in (0, 1):
        write_record(tmp_path, "nyuv2", "stl", "full", seed, metrics_of(20, 0.6, 30))
        write_record(tmp_path, "nyuv2", "sl", "onelabel", seed, metrics_of(15, 0.7, 33))
        write_record(tmp_path, "nyuv2", "xtc", "onelabel", seed, metrics_of(16, 0.7, 33),
                     config={"train": {"selection": "best-test", "loss_reduction": "official"}})
    summary, _ = build_summary(TableRequest("nyuv2", tmp_path, profile="quick"))
    view = build_view(summary)
    assert view.method_label(("onelabel", "xtc")) == "Cross-task (XTC)†"
    assert view.method_label(("onelabel", "sl")) == "Supervised Learning"
    footer = " ".join(view.footer)
    assert "best test metrics (†, as the official scripts" in footer
    from bench.report.formats import to_markdown
    from bench.report.latex import to_latex

    assert "| Cross-task (XTC)† |" in to_markdown(view)
    tex = to_latex(view)
    assert r"Cross-task (XTC)$^\dagger$" in tex and r"test metrics ($^\dagger$" in tex


@pytest.mark.slow
@pytest.mark.parametrize("rule", ["best-val", "best-test"])
def test_selected_epoch_is_the_one_tested(rule, nyuv2_root, tmp_path):
    results = tmp_path / "res"
    extra = ["--set", "data.val_fraction=0"] if rule == "best-test" else []
    assert main(["run", "--methods", "sl", "--dataset", "nyuv2", "--regimes", "onelabel",
                 "--seeds", "0", "--profile", "smoke", "--set", "train.epochs=4", "--set",
                 f"train.selection={rule}", *extra, "--jobs", "1", "--no-table",
                 "--data-root", str(nyuv2_root), "--results", str(results)]) == 0
    record = next(iter_records(results))
    key = "metrics" if rule == "best-val" else "test"
    assert record.selection == {"rule": rule,
                                "epoch": select_epoch(record.history, key, TASKS)}
    if rule == "best-test":
        chosen = next(h for h in record.history if h["epoch"] == record.selection["epoch"])
        assert record.metrics == chosen["test"] and record.validation["images"] == 0
    else:
        assert record.validation["images"] == 2 and record.val_metrics
    # the final weights are the selected epoch's: testing them gives the record's metrics
    from bench.engine.build import build_method
    from bench.engine.evaluation import evaluate

    model = build_method(record.config, TASKS)
    model.load_state_dict(torch.load(record.path / "model_final.pth", weights_only=True))
    config = {**record.config, "execution": {"data_root": str(nyuv2_root / "nyuv2"),
                                             "num_workers": 0}}
    split = training_split(config)
    loaders = build_dataloaders(get_dataset("nyuv2"), config, split,
                                np.ones((len(split.train), 3), bool), False)
    assert evaluate(model, loaders.test, TASKS) == pytest.approx(record.metrics)
