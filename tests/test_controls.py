"""Negative controls: the shuffled variants really break the cross-task pairing, nothing else."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from views import views

from bench.data.intrinsics import Intrinsics
from bench.method.crosstask import mean_cosine_distance, other_labelled_images, pair_rows
from bench.nets.mapping import pair_index
from bench.registry import METHODS, method_info, method_names, method_options, method_sets
from bench.tasks.depth import DepthTask
from bench.tasks.normal import NormalTask
from bench.tasks.semantic import SemanticTask

TASKS = [SemanticTask(5), DepthTask(), NormalTask()]
B, H, W = 6, 32, 32


def batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    preds = {"semantic": torch.randn(B, 5, H, W, generator=g),
             "depth": torch.rand(B, 1, H, W, generator=g) + 0.1,
             "normal": F.normalize(torch.randn(B, 3, H, W, generator=g), dim=1)}
    labels = {"semantic": torch.randint(0, 5, (B, H, W), generator=g),
              "depth": torch.rand(B, 1, H, W, generator=g) + 0.1,
              "normal": F.normalize(torch.randn(B, 3, H, W, generator=g), dim=1)}
    return preds, labels


CAMERA = Intrinsics(fx=30.0, fy=30.0, cx=16.0, cy=16.0, height=H, width=W)

MASK = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]],
                    dtype=torch.bool)


def test_every_cross_task_family_has_a_control_outside_all():
    controls = method_sets()["controls"]
    assert {method_info(c).control_of for c in controls} == {
        "xtc", "direct_map", "perceptual_map", "contrastive", "discriminator",
        "oracle-geometry", "jtr"}
    for c in controls:
        assert c not in method_sets()["all"]
        assert method_options(c) == {"shuffle_targets": True}
        base = method_info(c).control_of
        assert method_info(c).family == method_info(base).family
        assert method_info(c).search_space == method_info(base).search_space  # equal budget
    assert all(c in method_names() for c in controls)


def test_partners_are_other_images_labelled_for_the_task():
    torch.manual_seed(0)
    n, s, t = pair_rows(MASK)
    keep, partner = other_labelled_images(n, t, MASK)
    assert keep.all()  # every task is labelled on two images of this batch
    assert (partner != n).all()
    assert MASK[partner, t].all()


def test_other_labelled_images_says_where_the_batch_has_none():
    mask = torch.tensor([[1, 0], [0, 1], [0, 1]], dtype=torch.bool)
    # image 0 is the only one labelled for task 0; images 1 and 2 are labelled for task 1
    keep, partner = other_labelled_images(torch.tensor([0, 1]), torch.tensor([0, 1]), mask)
    assert keep.tolist() == [False, True] and partner[1].item() == 2


#: one-label batch in which task 0 is labelled on one image only
LONE = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 1, 0], [0, 0, 1], [0, 1, 0]],
                    dtype=torch.bool)


def fill_bank(model, mask, labels, feature):
    """One step's bank update, as ``train_step`` does after the step's losses."""
    preds = {k: v.float() for k, v in labels.items()}
    model.after_step_terms(views(mask, preds, labels, feature))


@pytest.mark.parametrize("name", ["xtc", "direct_map", "perceptual_map", "contrastive",
                                  "discriminator", "oracle-geometry", "jtr"])
def test_the_control_keeps_every_row_of_its_method(name):
    """Rows whose batch holds no other image labelled for the task take the banked label of an
    earlier batch: the control has its method's rows (and so its normalisation)."""
    _, labels = batch(0)
    tasks = TASKS
    method = METHODS.build({"type": name, "tasks": tasks, "width": 0.0625,
                            **({"camera": CAMERA} if name.startswith("oracle") else {})})
    control = METHODS.build({"type": f"{name}-shuffled", "tasks": tasks, "width": 0.0625,
                             **({"camera": CAMERA} if name.startswith("oracle") else {})})
    feature = torch.randn(B, 4, 1, 1)
    n, s, t, m = method.consistency_rows(LONE)
    assert (m == n).all()  # the method targets each row's own image
    cn, cs, ct, cm = control.consistency_rows(LONE)
    assert len(cn) < len(n)  # first step, empty bank: task 0's rows have no other image
    fill_bank(control, MASK, labels, feature)
    torch.manual_seed(0)
    cn, cs, ct, cm = control.consistency_rows(LONE)
    assert torch.equal(cn, n) and torch.equal(cs, s) and torch.equal(ct, t)
    assert (cm != cn).all()  # never the row's own image
    lone = ct == 0
    assert (cm[lone] == B + 0).all() and (cm[~lone] < B).all()
    assert LONE[cm[~lone], ct[~lone]].all()
    targets = control.target_labels(views(LONE, None, labels, feature).second, LONE)
    # slot B + k holds the last image of the banked batch labelled for task k, and its feature
    last = {k: int(MASK[:, k].nonzero()[-1]) for k in range(3)}
    for k, task in enumerate(tasks):
        torch.testing.assert_close(targets.labels[task.name][B + k],
                                   labels[task.name][last[k]])
        torch.testing.assert_close(targets.feature[B + k], feature[last[k]])
    torch.testing.assert_close(targets.feature[:B], feature)


def test_the_bank_travels_with_the_weights():
    _, labels = batch(0)
    control = METHODS.build({"type": "xtc-shuffled", "tasks": TASKS, "width": 0.0625})
    feature = torch.randn(B, 4, 1, 1)
    fill_bank(control, MASK, labels, feature)
    state = control.state_dict()
    fresh = METHODS.build({"type": "xtc-shuffled", "tasks": TASKS, "width": 0.0625})
    fresh.load_state_dict(state)
    assert fresh.bank_filled.all()
    torch.testing.assert_close(fresh.bank_feature, control.bank_feature)
    torch.testing.assert_close(fresh.bank_label_1, control.bank_label_1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_xtc_shuffled_maps_labels_of_other_images(seed, monkeypatch):
    """The control's loss equals the reference loss computed with the partners' labels."""
    monkeypatch.setattr(SemanticTask, "encode_prediction", lambda self, p: F.softmax(p, dim=1))
    torch.manual_seed(0)
    model = METHODS.build({"type": "xtc-shuffled", "tasks": TASKS, "width": 0.0625})
    preds, labels = batch(seed)
    feature = torch.randn(B, model.net.filters[-1], 1, 1)
    torch.manual_seed(seed)
    out = model.extra_losses(views(MASK, preds, labels, feature))["loss_xtc"]
    torch.manual_seed(seed)
    n, s, t = pair_rows(MASK)
    _, partner = other_labelled_images(n, t, MASK)
    ref = 0.0
    for r in range(n.numel()):
        ni, si, ti, mi = int(n[r]), int(s[r]), int(t[r]), int(partner[r])
        p = pair_index(torch.tensor([si]), torch.tensor([ti]), 3)
        src = [None] * 3
        tgt = [None] * 3
        src[si] = TASKS[si].encode_prediction(preds[TASKS[si].name][ni:ni + 1])
        tgt[ti] = TASKS[ti].encode_label(labels[TASKS[ti].name][mi:mi + 1])
        ms = model.mapping(src, torch.tensor([si]), p)
        mt = model.mapping(tgt, torch.tensor([ti]), p)
        # each mapped side is regularised towards the feature of its own image: the row's
        # image for the prediction side, the partner's for the label side
        ref = ref + mean_cosine_distance(ms, mt) + model.reg_weight * (
            mean_cosine_distance(ms, feature[ni:ni + 1])
            + mean_cosine_distance(mt, feature[mi:mi + 1]))
    torch.testing.assert_close(out, (model.con_weight * ref / B).squeeze(), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("name", ["xtc", "direct_map", "perceptual_map", "contrastive",
                                  "discriminator", "jtr"])
def test_the_control_changes_only_the_label_side(name, monkeypatch):
    """With labels equal on every image, shuffling the label side changes nothing."""
    torch.manual_seed(0)
    preds, labels = batch(0)
    same = {k: v[:1].expand_as(v).clone() for k, v in labels.items()}
    out = {}
    for variant in (name, f"{name}-shuffled"):
        torch.manual_seed(0)
        model = METHODS.build({"type": variant, "tasks": TASKS, "width": 0.0625})
        # deterministic inputs to the mappings (no Gumbel noise) and no RNG use but the shuffle
        monkeypatch.setattr(SemanticTask, "encode_prediction",
                            lambda self, p: F.softmax(p, dim=1))
        feature = torch.randn(B, model.net.filters[-1], 1, 1)
        torch.manual_seed(1)
        out[variant] = {k: v.detach() for k, v in model.extra_losses(
            views(MASK, preds, same, feature)).items() if k.startswith("loss")}
    for key, value in out[name].items():
        torch.testing.assert_close(out[f"{name}-shuffled"][key], value, rtol=1e-5, atol=1e-6)


def test_the_control_differs_when_labels_differ():
    preds, labels = batch(0)
    losses = []
    for variant in ("xtc", "xtc-shuffled"):
        torch.manual_seed(0)
        model = METHODS.build({"type": variant, "tasks": TASKS, "width": 0.0625})
        feature = torch.randn(B, model.net.filters[-1], 1, 1)
        torch.manual_seed(3)
        losses.append(model.extra_losses(views(MASK, preds, labels, feature))["loss_xtc"])
    assert not torch.isclose(losses[0], losses[1])
