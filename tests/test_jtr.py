"""JTR (methods/jtr.py): the loss against a derivation of its own, stop-gradients, control, reach."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from views import views

from bench.method.base import TrainingViews, View
from bench.registry import METHODS, method_info, method_sets, weighting_names
from bench.studies.perf import measure
from bench.tasks.depth import DepthTask
from bench.tasks.normal import NormalTask
from bench.tasks.semantic import SemanticTask

C, B, H, W = 4, 3, 32, 32
TASKS = [SemanticTask(C), DepthTask(), NormalTask()]
MASK = torch.tensor([[1, 0, 0], [0, 1, 1], [1, 1, 1]], dtype=torch.bool)


def argmax_straight_through(self: SemanticTask, pred: torch.Tensor) -> torch.Tensor:
    """A Gumbel sample without noise: one-hot of the arg max, gradient of the softmax."""
    soft = F.softmax(pred, dim=1)
    hard = F.one_hot(soft.argmax(1), pred.shape[1]).permute(0, 3, 1, 2).to(soft.dtype)
    return hard - soft.detach() + soft


def batch(seed: int) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Raw predictions (leaves) and labels with missing pixels, blanked where MASK drops them."""
    g = torch.Generator().manual_seed(seed)
    raw = {"semantic": torch.randn(B, C, H, W, generator=g),
           "depth": torch.rand(B, 1, H, W, generator=g) * 4,
           "normal": torch.randn(B, 3, H, W, generator=g)}
    seg = torch.randint(0, C, (B, H, W), generator=g)
    seg[:, :3] = -1
    depth = torch.rand(B, 1, H, W, generator=g) * 4 + 0.5
    depth[..., 5:9, :] = 0
    normal = F.normalize(torch.randn(B, 3, H, W, generator=g), dim=1)
    normal[..., 2:4] = 0
    labels = {"semantic": seg, "depth": depth, "normal": normal}
    for k, t in enumerate(TASKS):
        labels[t.name][~MASK[:, k]] = t.blank_label(labels[t.name][~MASK[:, k]])
    return {k: v.requires_grad_() for k, v in raw.items()}, labels


def activate(raw: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {"semantic": raw["semantic"], "depth": raw["depth"],
            "normal": F.normalize(raw["normal"], dim=1, eps=1e-12)}


def two_views(p1: dict, l1: dict, p2: dict, l2: dict) -> TrainingViews:
    """The second view is the distance's (public view 1), the main one the JTR net's (view 2)."""
    return TrainingViews(MASK, View(None, p2, l2, None), View(None, p1, l1, None))


def build(name: str = "jtr", tasks=TASKS, **kw) -> torch.nn.Module:
    torch.manual_seed(0)
    return METHODS.build({"type": name, "tasks": tasks, "width": 0.0625, **kw})


# -- an independent derivation, one image at a time ---------------------------------------------
PHI = torch.distributions.Normal(2.3618, 1.5876)


def onehot(seg: torch.Tensor) -> torch.Tensor:
    valid = (seg >= 0)
    return F.one_hot(seg.clamp_min(0), C).permute(0, 3, 1, 2).float() * valid[:, None]


def reference_loss(model, p1, l1, p2, l2) -> torch.Tensor:
    """The JTR term written out per image: 4 [D1 + 2 D2] + 2 Σ recon, averaged over the batch."""
    net = model.jtr
    frozen = copy.deepcopy(net)
    total = torch.zeros(())
    for n in range(B):
        lab = MASK[n].tolist()

        def per_image(p, lab_, n=n):
            return {k: (v[n:n + 1].detach() if lab_[i] else v[n:n + 1])
                    for i, (k, v) in enumerate(p.items())}

        def stacks(p, labels, soft_hat, lab=lab, n=n):
            q = per_image(p, lab)
            m = torch.ones(1, 1, H, W)
            if lab[0]:
                m = m * (labels["semantic"][n:n + 1] != -1)[:, None]
            if lab[1]:
                m = m * (labels["depth"][n:n + 1] != 0)
            if lab[2]:
                m = m * (labels["normal"][n:n + 1].abs().sum(1, keepdim=True) != 0)
            hard = argmax_straight_through(None, q["semantic"]) * m
            seg_hat = F.softmax(q["semantic"], 1) * m if soft_hat else hard
            depth_hat = PHI.cdf(q["depth"] * m)
            normal_hat = (q["normal"] * m + 1) / 2
            y_hat = torch.cat([seg_hat, depth_hat, normal_hat], 1)
            y = torch.cat([onehot(labels["semantic"][n:n + 1]) if lab[0] else hard,
                           PHI.cdf(labels["depth"][n:n + 1]) if lab[1] else depth_hat,
                           (labels["normal"][n:n + 1] + 1) / 2 if lab[2] else normal_hat], 1)
            return q, m, y, y_hat, hard, depth_hat, normal_hat

        def dist(a, b):
            return 1 - F.cosine_similarity(a, b, dim=1, eps=1e-12).mean()

        _, _, y1, y_hat1, *_ = stacks(p1, l1, soft_hat=False)
        d1 = dist(frozen(y1, decode=False)[0], frozen(y_hat1, decode=False)[0])
        q, m, y2, y_hat2, hard, depth_hat, normal_hat = stacks(p2, l2, soft_hat=True)
        f_y, r_y = net(y2.detach())
        f_hat, r_hat = net(y_hat2.detach())
        d2 = dist(f_y, f_hat)

        def seg_loss(r, target, m=m):
            target = target.detach()
            return (F.binary_cross_entropy_with_logits(r, target, reduction="none") * m).sum() \
                / max(int((target != 0).sum()), 1)

        def depth_loss(r, target, m=m):
            target = target.detach()
            s = (torch.sigmoid(r) - 0.5) * (1 - 1e-5) + 0.5
            return ((s - PHI.cdf(target)).abs() * m).sum() / max(int((target != 0).sum()), 1)

        def normal_loss(r, target, m=m):
            target = target.detach()
            return 1 - (r / r.norm(dim=1, keepdim=True) * target * m).sum() \
                / max(int((target != 0).sum()), 1)

        recon = 0
        for r, targets in ((r_y, (onehot(l2["semantic"][n:n + 1]) if lab[0] else hard,
                                  l2["depth"][n:n + 1] if lab[1] else q["depth"],
                                  l2["normal"][n:n + 1] if lab[2] else q["normal"])),
                           (r_hat, (hard, depth_hat, normal_hat))):
            rs, rd, rn = torch.split(r, [C, 1, 3], dim=1)
            recon = recon + seg_loss(rs, targets[0]) + depth_loss(rd, targets[1]) \
                + normal_loss(rn, targets[2])
        total = total + (4 * (d1 + 2 * d2) + 2 * recon) / B
    return total


@pytest.mark.parametrize("seed", [0, 1])
def test_the_loss_of_a_fixed_batch_equals_its_derivation(seed, monkeypatch):
    monkeypatch.setattr(SemanticTask, "encode_prediction", argmax_straight_through)
    model = build()
    r1, l1 = batch(seed)
    r2, l2 = batch(seed + 10)
    want = reference_loss(model, activate(r1), l1, activate(r2), l2)
    model2 = build()
    got = model2.extra_losses(two_views(activate(r1), l1, activate(r2), l2))["loss_jtr"]
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_the_published_weights_and_schedule_are_the_defaults():
    model = build()
    assert model.options.con_weight == 4.0 and model.options.recon_weight == 2.0
    groups = type(model).optim_group_defaults({})
    assert groups["jtr"]["optimizer"] == {"type": "Adam", "lr": 1e-4}
    assert groups["jtr"]["scheduler"] == {"type": "StepLR", "step_size": 200, "gamma": 0.5}
    own = {id(p) for p in model.jtr.parameters()}
    optim = model.optim_groups()
    assert {id(p) for p in optim["jtr"]} == own
    assert not own & {id(p) for p in optim["net"]}


def test_gradients_stop_where_the_public_code_stops_them():
    model = build()
    r1, l1 = batch(0)
    r2, l2 = batch(1)
    terms = model.jtr_terms(two_views(activate(r1), l1, activate(r2), l2))
    params = list(model.jtr.parameters())
    # the first view's distance: through the frozen copy, to the unlabelled predictions only
    grads = torch.autograd.grad(terms["dist_1"].sum(), [*params, *r1.values(), *r2.values()],
                                allow_unused=True)
    assert all(g is None or not g.any() for g in grads[:len(params)])
    g1 = dict(zip(r1, grads[len(params):len(params) + 3], strict=True))
    for k, name in enumerate(r1):
        for n in range(B):
            grad = g1[name][n]
            assert bool(grad.abs().sum() > 0) == bool(not MASK[n, k]), (name, n)
    assert all(g is None or not g.any() for g in grads[len(params) + 3:])
    # the second view's distance and the reconstruction: the JTR network only
    second = terms["dist_2"].sum() + terms["recon"].sum()
    grads = torch.autograd.grad(second, [*params, *r1.values(), *r2.values()], allow_unused=True)
    assert sum(g is not None and bool(g.any()) for g in grads[:len(params)]) > 0.9 * len(params)
    assert all(g is None or not g.any() for g in grads[len(params):])


def test_the_network_gets_the_terms_gradient_through_its_predictions():
    model = build()
    image = torch.randn(B, 3, H, W)
    _, labels = batch(0)
    preds, feature = model.net(image)
    second_preds, _ = model.net(torch.randn(B, 3, H, W))
    out = model.extra_losses(two_views(second_preds, labels, preds, labels))
    out["loss_jtr"].backward()
    assert any(p.grad is not None and p.grad.any() for p in model.net.parameters())
    assert set(out) >= {"loss_jtr", "jtr_distance", "jtr_recon", "probe_advantage"}


def test_the_shuffled_control_substitutes_other_images_labels(monkeypatch):
    monkeypatch.setattr(SemanticTask, "encode_prediction", argmax_straight_through)
    r1, l1 = batch(0)
    r2, l2 = batch(1)
    out = {}
    for name in ("jtr", "jtr-shuffled"):
        model = build(name)
        torch.manual_seed(3)
        out[name] = model.extra_losses(two_views(activate(r1), l1, activate(r2), l2))
    assert not torch.isclose(out["jtr"]["loss_jtr"], out["jtr-shuffled"]["loss_jtr"])
    # with every image's labels equal, shuffling them changes nothing
    same = [{k: v[2:3].expand_as(v).clone() for k, v in lab.items()} for lab in (l1, l2)]
    equal = {}
    for name in ("jtr", "jtr-shuffled"):
        model = build(name)
        equal[name] = model.extra_losses(two_views(activate(r1), same[0], activate(r2),
                                                   same[1]))["loss_jtr"].detach()
    torch.testing.assert_close(equal["jtr"], equal["jtr-shuffled"])
    control = build("jtr-shuffled")
    use, source = control.substitutes(MASK)
    assert use.all()  # every task is labelled on two images: each finds another
    n, t = MASK.nonzero(as_tuple=True)
    assert (source[n, t] != n).all() and MASK[source[n, t], t].all()


def test_it_is_in_all_in_the_power_study_and_has_a_control():
    sets = method_sets()
    assert "jtr" in sets["all"] and "jtr" in sets["power"]
    assert "jtr-shuffled" in sets["controls"] and "jtr-shuffled" not in sets["all"]
    assert method_info("jtr-shuffled").control_of == "jtr"
    assert method_info("jtr").paper_name == "JTR"


def test_one_label_image_through_views_of_one():
    """With one view for both (as the control tests feed it) the term is finite."""
    model = build()
    raw, labels = batch(0)
    out = model.extra_losses(views(MASK, activate(raw), labels))
    assert torch.isfinite(out["loss_jtr"])


def test_it_steps_with_every_weighting_and_on_pascals_five_tasks():
    rows = ["sl", "jtr", *[f"jtr+{w}" for w in weighting_names() if w != "equal"]]
    results = measure(rows, "synthetic-nyuv2", width=0.0625, batch=2, height=32, width_px=32,
                      regime="onelabel", rounds=1, warmup=0)
    assert [r.method for r in results] == rows
    assert all(r.step_s > 0 and r.flops > 0 for r in results)
    pascal = measure(["sl", "jtr", "jtr-shuffled"], "synthetic-pascal", width=0.0625, batch=2,
                     height=32, width_px=32, regime="onelabel", rounds=1, warmup=0)
    assert all(r.step_s > 0 and r.flops > 0 for r in pascal)
    assert pascal[1].flops > pascal[0].flops


@pytest.mark.slow
def test_a_short_training_run_writes_a_record(tmp_path, capsys):
    from bench.cli import main
    from bench.records.store import iter_records

    code = main(["run", "--methods", "jtr", "--dataset", "synthetic-nyuv2", "--profile",
                 "smoke", "--regimes", "onelabel", "--seeds", "0",
                 "--results", str(tmp_path / "r")])
    assert code == 0, capsys.readouterr().err
    records = list(iter_records(tmp_path / "r"))
    assert [r.method for r in records] == ["jtr"]


def test_the_published_rows_carry_the_jtr_paper_as_their_source():
    from bench.report.paper import JTR_CITATION, paper_values

    nyu = paper_values("nyuv2", {"JTR": "jtr"})
    assert nyu[("randomlabels", "jtr", "semantic/mIoU")][::2] == (37.08, JTR_CITATION)
    assert nyu[("randomlabels", "jtr", "depth/absErr")][0] == pytest.approx(0.5541)
    assert nyu[("randomlabels", "jtr", "normal/mean")][0] == pytest.approx(29.44)
    city = paper_values("cityscapes", {"JTR": "jtr"})
    assert city[("onelabel", "jtr", "semantic/mIoU")][0] == pytest.approx(72.33)
    assert city[("onelabel", "jtr", "depth/absErr")][0] == pytest.approx(0.0163)
