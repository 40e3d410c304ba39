"""Losses on hand-computed cases (the paper definitions in training/losses.py)."""
import math

import pytest
import torch

from training.losses import (affine_invariant_loss, cutmix_affine_invariant_loss, depth_to_disparity_target,
                             feature_alignment_loss, normalize_disparity, silog_loss)


def t(values, shape=(1, 2, 2)):
    return torch.tensor(values, dtype=torch.float64).reshape(shape)


def test_affine_invariant_hand_computed():
    # pred: median (lower) 2, mean |d - 2| = (1 + 0 + 1 + 8) / 4 = 2.5 -> [-0.4, 0, 0.4, 3.2]
    # target: median 2, mean |d - 2| = 1 -> [-1, 0, 1, 2];  mean |diff| = (0.6 + 0 + 0.6 + 1.2) / 4 = 0.6
    pred, target = t([1.0, 2.0, 3.0, 10.0]), t([1.0, 2.0, 3.0, 4.0])
    assert normalize_disparity(pred, torch.ones_like(pred, dtype=torch.bool)).flatten().tolist() == \
        pytest.approx([-0.4, 0.0, 0.4, 3.2], abs=1e-5)
    assert float(affine_invariant_loss(pred, target)) == pytest.approx(0.6, abs=1e-5)


def test_affine_invariant_unchanged_under_scale_and_shift():
    g = torch.Generator().manual_seed(0)
    pred = torch.rand(3, 8, 9, generator=g, dtype=torch.float64)
    target = torch.rand(3, 8, 9, generator=g, dtype=torch.float64)
    mask = torch.rand(3, 8, 9, generator=g) > 0.3
    base = float(affine_invariant_loss(pred, target, mask))
    for s, sh in ((3.0, 5.0), (0.01, -2.0), (250.0, 0.0)):
        assert float(affine_invariant_loss(s * pred + sh, target, mask)) == pytest.approx(base, rel=1e-5)
        assert float(affine_invariant_loss(pred, s * target + sh, mask)) == pytest.approx(base, rel=1e-5)
    # the exact affine copy of the target has zero loss
    assert float(affine_invariant_loss(4.0 * target + 1.0, target, mask)) == pytest.approx(0.0, abs=1e-6)


def test_affine_invariant_ignores_masked_pixels_and_empty_images():
    pred, target = t([1.0, 2.0, 3.0, 10.0]), t([1.0, 2.0, 3.0, 4.0])
    mask = t([1, 1, 1, 0]).bool()
    # on the first three pixels pred is an exact affine copy of target
    assert float(affine_invariant_loss(pred, target, mask)) == pytest.approx(0.0, abs=1e-6)
    wild = pred.clone()
    wild[0, 1, 1] = 1e6
    assert float(affine_invariant_loss(wild, target, mask)) == pytest.approx(0.0, abs=1e-6)
    # an image without valid pixels is skipped; all-empty gives 0 with a gradient path
    p2 = torch.cat([pred, pred]).requires_grad_(True)
    m2 = torch.cat([torch.ones_like(mask), torch.zeros_like(mask)])
    assert affine_invariant_loss(p2, torch.cat([target, target]), m2).item() == pytest.approx(0.6, abs=1e-5)
    z = affine_invariant_loss(p2, torch.cat([target, target]), torch.zeros_like(m2))
    z.backward()
    assert z.item() == 0.0


def test_cutmix_area_weights():
    g = torch.Generator().manual_seed(1)
    pred = torch.rand(2, 4, 4, generator=g, dtype=torch.float64)
    own = torch.rand(2, 4, 4, generator=g, dtype=torch.float64)
    partner = torch.rand(2, 4, 4, generator=g, dtype=torch.float64)
    box = torch.zeros(2, 4, 4, dtype=torch.bool)
    box[0, :, :1] = True  # image 0: box of 4 px -> weights 4/16 and 12/16
    # image 1: no box -> plain loss against its own target
    l_in = affine_invariant_loss(pred[:1], partner[:1], box[:1])
    l_out = affine_invariant_loss(pred[:1], own[:1], ~box[:1])
    l1 = affine_invariant_loss(pred[1:], own[1:])
    expected = 0.5 * ((4 / 16) * l_in + (12 / 16) * l_out + l1)
    got = cutmix_affine_invariant_loss(pred, own, partner, box)
    assert float(got) == pytest.approx(float(expected), rel=1e-9)


def test_cutmix_zero_when_each_region_matches_its_source():
    own = t(list(range(16)), (1, 4, 4)) + 1.0
    partner = own.flip(-1) * 0.3
    box = torch.zeros(1, 4, 4, dtype=torch.bool)
    box[0, 1:3, 1:3] = True
    # inside the box the student predicts an affine copy of the partner's label, outside of its own
    pred = torch.where(box, 5.0 * partner + 2.0, 0.5 * own - 1.0)
    assert float(cutmix_affine_invariant_loss(pred, own, partner, box)) == pytest.approx(0.0, abs=1e-6)


def test_feature_alignment_margin():
    s = torch.tensor([[[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]])
    f = torch.tensor([[[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])  # cos = 1 (dropped), 0, 0.7071
    expected = ((1 - 0.0) + (1 - 1 / math.sqrt(2))) / 2
    assert float(feature_alignment_loss(s, f, 0.85)) == pytest.approx(expected, abs=1e-6)
    # alpha = 1 keeps every token (the paper's "no margin" row)
    assert float(feature_alignment_loss(s, f, 1.0)) == pytest.approx((0 + 1 + (1 - 1 / math.sqrt(2))) / 3, abs=1e-6)
    # every token above the margin: 0, still differentiable
    x = torch.tensor([[[1.0, 0.1], [0.0, 1.0]]], requires_grad=True)
    loss = feature_alignment_loss(x, torch.tensor([[[1.0, 0.0], [0.05, 1.0]]]), 0.85)
    loss.backward()
    assert loss.item() == 0.0 and x.grad is not None


def test_feature_alignment_frozen_side_gets_no_gradient():
    s = torch.randn(1, 5, 8, requires_grad=True)
    f = torch.randn(1, 5, 8, requires_grad=True)
    feature_alignment_loss(s, f, 0.85).backward()
    assert s.grad is not None and f.grad is None


def test_silog_hand_computed():
    target = t([1.0, 2.0, 4.0, 8.0])
    pred = 2.0 * target  # g = -ln 2 everywhere: sqrt(ln2^2 - 0.5 ln2^2) = ln2 / sqrt(2)
    mask = torch.ones_like(target, dtype=torch.bool)
    assert float(silog_loss(pred, target, mask, 0.5)) == pytest.approx(math.log(2) / math.sqrt(2), rel=1e-6)
    assert float(silog_loss(target, target, mask)) == pytest.approx(0.0, abs=1e-5)
    # g = [0, ln 2]: mean g^2 = ln2^2 / 2, mean g = ln2 / 2 -> sqrt(ln2^2 / 2 - 0.5 ln2^2 / 4)
    p2, t2 = t([1.0, 1.0], (1, 1, 2)), t([1.0, 2.0], (1, 1, 2))
    want = math.sqrt(math.log(2) ** 2 / 2 - 0.5 * (math.log(2) / 2) ** 2)
    assert float(silog_loss(p2, t2, torch.ones_like(t2, dtype=torch.bool))) == pytest.approx(want, rel=1e-6)
    # masked pixels do not count
    m3 = t([1, 1, 1, 0]).bool()
    wild = pred.clone()
    wild[0, 1, 1] = 1e-3
    assert float(silog_loss(wild, target, m3)) == pytest.approx(math.log(2) / math.sqrt(2), rel=1e-6)


def test_disparity_target_and_sky():
    depth = t([1.0, 2.0, 4.0, 0.0])
    valid = t([1, 1, 1, 0]).bool()
    norm, mask = depth_to_disparity_target(depth, valid, invalid_is_sky=False)
    # disparity 1, 0.5, 0.25 -> min-max -> 1, 1/3, 0
    assert norm.flatten().tolist() == pytest.approx([1.0, 1 / 3, 0.0, 0.0], abs=1e-6)
    assert mask.flatten().tolist() == [True, True, True, False]
    _, sky_mask = depth_to_disparity_target(depth, valid, invalid_is_sky=True)
    assert bool(sky_mask.all())
