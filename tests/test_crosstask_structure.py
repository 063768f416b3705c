"""Gradients reach exactly the parameters they should; mapping structure of each method."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper, OptimWrapperDict
from views import views

from bench.data.nyuv2 import NYUv2
from bench.nets.mapping import CrossTaskMapping
from bench.registry import METHODS, method_names
from bench.tasks.depth import DepthTask
from bench.tasks.normal import NormalTask
from bench.tasks.semantic import SemanticTask
from methods.discriminator import DiscriminatorLoss
from methods.ssl import SemiSupervised

TASKS = NYUv2.build_tasks()
B, H, W = 4, 64, 64


def _labels(b=B, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"semantic": torch.randint(-1, 13, (b, H, W), generator=g),
            "depth": torch.rand(b, 1, H, W, generator=g) + 0.1,
            "normal": F.normalize(torch.randn(b, 3, H, W, generator=g), dim=1)}


def _batch(mask):
    torch.manual_seed(0)
    labels = _labels()
    return {"image": torch.rand(B, 3, H, W), "labels": labels, "label_mask": mask,
            "index": torch.arange(B),
            "view2": {"image": torch.rand(B, 3, H, W), "labels": _labels(seed=1)}}


ONE = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]], dtype=torch.bool)


@pytest.mark.parametrize("name", method_names())
def test_no_supervised_gradient_from_unlabelled_tasks(name):
    torch.manual_seed(0)
    model = METHODS.build({"type": name, "tasks": TASKS, "width": 0.0625,
                           "camera": NYUv2.intrinsics((H, W))})
    mask = torch.zeros(B, 3, dtype=torch.bool)
    mask[:, 1] = True  # only depth labelled
    batch = _batch(mask)
    stl = name == "stl"
    if stl:  # its loss is the supervised loss of each network
        sup = model.loss(batch["image"], batch["labels"], mask, None)["loss_sup"]
    else:
        sup = model.supervised_losses(model.predict_tensors(batch["image"]), batch["labels"],
                                      mask)["loss_sup"]
    sup.backward()
    heads = ([model.net["semantic"].pred_task1, model.net["normal"].pred_task1] if stl
             else [model.net.pred_task1, model.net.pred_task3])
    for head in heads:
        assert all(p.grad is None for p in head.parameters()), name


def _xtc(name: str):
    torch.manual_seed(0)
    return METHODS.build({"type": name, "tasks": TASKS, "width": 0.0625})


def test_regulariser_target_feature_is_detached():
    model = _xtc("xtc")
    preds = {k: v.detach().requires_grad_() for k, v in model.predict_tensors(
        torch.rand(B, 3, H, W)).items()}
    feature = torch.randn(B, model.net.filters[-1], 2, 2, requires_grad=True)
    out = model.extra_losses(views(ONE, preds, _labels(), feature))
    out["loss_xtc"].backward()
    assert feature.grad is None
    assert preds["depth"].grad is not None  # the unlabelled prediction does get gradient


@pytest.mark.parametrize("name,has_film", [("xtc", True), ("xtc-noreg", True),
                                           ("xtc-nocond", False)])
def test_film_receives_gradient_only_with_conditioning(name, has_film):
    model = _xtc(name)
    film = model.mapping.film_parameters()
    assert bool(film) == has_film
    losses = model.loss(*(_batch(ONE)[k] for k in ("image", "labels")), ONE, _batch(ONE)["view2"])
    losses["loss_xtc"].backward()
    for p in film:
        assert p.grad is not None and p.grad.abs().sum() > 0
    groups = model.optim_groups()
    assert ("film" in groups) == has_film
    ids = [id(p) for g in groups.values() for p in g]
    assert len(ids) == len(set(ids)) == len([p for p in model.parameters()])


def test_nocond_has_one_mapping_for_all_pairs():
    cond, nocond = _xtc("xtc"), _xtc("xtc-nocond")
    n_cond = sum(p.numel() for p in cond.mapping.other_parameters())
    n_nocond = sum(p.numel() for p in nocond.mapping.parameters())
    assert n_cond == n_nocond  # identical weights, the pair only enters through FiLM
    assert not any("gamma" in n or "beta" in n for n, _ in nocond.mapping.named_parameters())


def _tasks(k):
    return [SemanticTask(5), DepthTask(), NormalTask(), SemanticTask(3, name="parts"),
            DepthTask(name="saliency")][:k]


def test_xtc_mapping_size_does_not_grow_with_pairs_beyond_film():
    shared, film = [], []
    for k in (2, 3, 5):
        m = CrossTaskMapping([t.channels for t in _tasks(k)], width=0.25)
        inputs = sum(p.numel() for p in m.mapfns.pred_encoder_source.parameters())
        film_n = sum(p.numel() for p in m.film_parameters())
        shared.append(sum(p.numel() for p in m.parameters()) - inputs - film_n)
        channels = sum(p.shape[0] for p in m.film_parameters()) // 2
        film.append((film_n, 2 * channels * k * (k - 1)))
    assert shared[0] == shared[1] == shared[2]
    assert all(a == b for a, b in film)


@pytest.mark.parametrize("name", ["direct_map", "perceptual_map"])
@pytest.mark.parametrize("k", [2, 3, 5])
def test_pairwise_methods_have_k_times_k_minus_one_mappings(name, k):
    tasks = _tasks(k)
    model = METHODS.build({"type": name, "tasks": tasks, "width": 0.0625})
    assert len(model.maps) == k * (k - 1)
    assert set(model.maps) == {f"{s.name}_to_{t.name}" for s in tasks for t in tasks
                               if s is not t}


def test_perceptual_terms_train_what_they_should():
    torch.manual_seed(0)
    model = METHODS.build({"type": "perceptual_map", "tasks": TASKS, "width": 0.0625})
    preds = {k: v.detach().requires_grad_() for k, v in model.predict_tensors(
        torch.rand(B, 3, H, W)).items()}
    out = model.extra_losses(views(ONE, preds, _labels(), None))
    out["loss_map_fit"].backward(retain_graph=True)
    assert all(p.grad is None for p in preds.values())  # fitting the maps leaves the net alone
    assert any(p.grad is not None for p in model.maps.parameters())
    model.zero_grad(set_to_none=True)
    out["loss_perceptual"].backward()
    assert all(p.grad is None for p in model.maps.parameters())  # maps are constants here
    assert preds["semantic"].grad is not None


def test_ssl_adds_nothing_with_full_labels_and_something_with_one_label():
    torch.manual_seed(0)
    model = SemiSupervised(TASKS, width=0.0625)
    full = torch.ones(B, 3, dtype=torch.bool)
    b = _batch(full)
    assert "loss_ssl" not in model.loss(b["image"], b["labels"], full, None)
    losses = model.loss(b["image"], b["labels"], ONE, None)
    assert losses["loss_ssl"] > 0


def _wrappers(model):
    groups = model.optim_groups()
    return OptimWrapperDict(**{k: OptimWrapper(torch.optim.Adam(v, lr=1e-2))
                               for k, v in groups.items()})


def _snapshot(module):
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def test_discriminator_and_network_steps_touch_only_their_parameters():
    torch.manual_seed(0)
    model = DiscriminatorLoss(TASKS, width=0.0625)
    wrappers = _wrappers(model)
    batch = _batch(ONE)
    model.train()
    data = model.data_preprocessor(batch, True)
    # generator loss: no gradient reaches D
    model._pairs = None
    total, _ = model.parse_losses(model._run_forward(data, mode="loss"))
    total.backward()
    assert all(p.grad is None for p in model.discriminator.parameters())
    assert model.mapping.film_parameters()[0].grad is not None
    model.zero_grad(set_to_none=True)
    # discriminator step alone: only D moves
    model._pairs = None
    model._run_forward(data, mode="loss")
    disc0, net0, map0 = (_snapshot(model.discriminator), _snapshot(model.net),
                         _snapshot(model.mapping))
    wrappers["discriminator"].update_params(model.discriminator_loss(*model._pairs[:4]))
    assert any(not torch.equal(v, disc0[k]) for k, v in _snapshot(model.discriminator).items())
    assert all(torch.equal(v, net0[k]) for k, v in _snapshot(model.net).items())
    assert all(torch.equal(v, map0[k]) for k, v in _snapshot(model.mapping).items())
    assert all(p.grad is None for p in model.net.parameters())


def test_discriminator_train_step_runs_both_updates():
    torch.manual_seed(0)
    model = DiscriminatorLoss(TASKS, width=0.0625)
    wrappers = _wrappers(model)
    disc0, net0 = _snapshot(model.discriminator), _snapshot(model.net)
    log = model.train_step(_batch(ONE), wrappers)
    assert "disc_loss" in log and torch.isfinite(log["loss"])
    assert any(not torch.equal(v, disc0[k]) for k, v in _snapshot(model.discriminator).items())
    assert any(not torch.equal(v, net0[k]) for k, v in _snapshot(model.net).items())


def test_split_first_convolution_equals_the_concatenated_pairs():
    """D's pair form (first convolution as the sum of its halves, each input once) gives the
    logits of the plain form on every concatenated (source, target) pair, in float64."""
    from methods.discriminator import PairDiscriminator

    torch.manual_seed(0)
    disc = PairDiscriminator(6).double()
    sources = torch.randn(3, 4, 6, 8, 10, dtype=torch.float64)  # P=3 pairs, B=4 images
    target = torch.randn(5, 6, 8, 10, dtype=torch.float64)  # R=5 rows
    pair_of_row = torch.tensor([0, 2, 2, 1, 0])
    split = disc(sources, target, pair_of_row)
    plain = disc(sources[pair_of_row].flatten(0, 1),
                 target[:, None].expand(5, 4, 6, 8, 10).flatten(0, 1)).view(5, 4)
    torch.testing.assert_close(split, plain, rtol=1e-12, atol=1e-12)


def test_discriminator_train_step_scores_the_pairs_once_against_the_updated_d():
    """Inside ``train_step`` the generator loss is computed once, after D's step (the forward
    does not also score the pairs against the old D)."""
    torch.manual_seed(0)
    model = DiscriminatorLoss(TASKS, width=0.0625)
    wrappers = _wrappers(model)
    calls = []
    model.discriminator.register_forward_hook(lambda *_: calls.append(1))
    model.train_step(_batch(ONE), wrappers)
    assert len(calls) == 2  # D's own step, then the generator step against the updated D
