"""Perturbations: ranges, probabilities, determinism, CutMix boxes."""
import torch

from training.augment import (adjust_hue, apply_cutmix, color_jitter, cutmix_boxes, gaussian_blur, grayscale,
                              random_grayscale, strong_color)


def img(b=4, h=20, w=24, seed=0):
    return torch.rand(b, 3, h, w, generator=torch.Generator().manual_seed(seed))


def test_strong_color_is_deterministic_and_in_range():
    x = img()
    a = strong_color(x, torch.Generator().manual_seed(3))
    b = strong_color(x, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == x.shape
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    assert not torch.equal(a, x)


def test_probabilities_zero_and_one():
    x = img()
    g = torch.Generator().manual_seed(0)
    assert torch.equal(color_jitter(x, g, p=0.0), x)
    gray = random_grayscale(x, g, p=1.0)
    assert torch.allclose(gray[:, 0], gray[:, 1]) and torch.allclose(gray[:, 1], gray[:, 2])
    assert torch.allclose(gray, grayscale(x))


def test_hue_full_turn_and_gray_invariance():
    x = img(2)
    assert torch.allclose(adjust_hue(x, torch.tensor([1.0, 1.0])), x.clamp(0, 1), atol=1e-5)
    g = grayscale(x)
    assert torch.allclose(adjust_hue(g, torch.tensor([0.2, -0.2])), g, atol=1e-5)


def test_blur_keeps_constant_images_and_smooths():
    c = torch.full((1, 3, 16, 16), 0.3)
    assert torch.allclose(gaussian_blur(c, 1.5), c, atol=1e-6)
    x = img(1, 16, 16)
    assert float(gaussian_blur(x, 2.0).std()) < float(x.std())


def test_cutmix_boxes_area_and_probability():
    g = torch.Generator().manual_seed(0)
    boxes = cutmix_boxes(200, 40, 60, g, p=1.0)
    area = boxes.flatten(1).float().mean(1)
    assert bool((area > 0).all())
    assert float(area.min()) >= 0.015 and float(area.max()) <= 0.42  # U(0.02, 0.4) up to rounding
    # each mask is one axis-aligned rectangle
    for m in boxes[:20]:
        ys, xs = torch.nonzero(m, as_tuple=True)
        assert m.sum() == (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)
    assert not cutmix_boxes(50, 40, 60, g, p=0.0).any()
    half = cutmix_boxes(400, 20, 20, torch.Generator().manual_seed(1), p=0.5).flatten(1).any(1).float().mean()
    assert 0.4 < float(half) < 0.6


def test_apply_cutmix_pastes_partner_inside_box():
    x, y = img(2, seed=1), img(2, seed=2)
    box = torch.zeros(2, 20, 24, dtype=torch.bool)
    box[0, 2:5, 3:9] = True
    out = apply_cutmix(x, box, y)
    assert torch.equal(out[0, :, 2:5, 3:9], y[0, :, 2:5, 3:9])
    assert torch.equal(out[0, :, 10:, :], x[0, :, 10:, :])
    assert torch.equal(out[1], x[1])
