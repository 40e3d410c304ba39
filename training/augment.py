"""Strong perturbations for the student's unlabeled input (V1 Sec. 3.2; parameters from the UniMatch code, our choice).

Hand-written in torch on (B, 3, H, W) float images in [0, 1] (before ImageNet normalisation), with an
explicit `torch.Generator` so runs are reproducible. torchvision is not installed here and kornia would
be one more dependency for ~80 lines; each operation draws its parameters per image:

- color jitter with p = 0.8: brightness, contrast, saturation factors U(0.5, 1.5), hue shift U(-0.25, 0.25)
  of a turn, applied in a random order (as torchvision's ColorJitter(0.5, 0.5, 0.5, 0.25));
  hue is rotated in YIQ chroma space (a close, cheap stand-in for an HSV hue shift);
- grayscale with p = 0.2 (ITU-R 601 luma);
- Gaussian blur with p = 0.5, sigma U(0.1, 2.0), separable kernel of radius ceil(3 sigma) with reflect padding;
- CutMix boxes with p = 0.5: area fraction U(0.02, 0.4), aspect ratio U(0.3, 1/0.3), fully inside.

Geometry is never changed here, so the teacher's pseudo-labels (clean image) stay pixel-aligned.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LUMA = (0.299, 0.587, 0.114)
_RGB2YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def _u(g: torch.Generator, n: int, lo: float, hi: float) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g)


def grayscale(img: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> luma replicated to 3 channels."""
    w = torch.tensor(LUMA, dtype=img.dtype, device=img.device).view(1, 3, 1, 1)
    return (img * w).sum(dim=1, keepdim=True).expand_as(img)


def adjust_brightness(img: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return (img * f.view(-1, 1, 1, 1)).clamp(0, 1)


def adjust_contrast(img: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    mean = grayscale(img).mean(dim=(1, 2, 3), keepdim=True)
    return (mean + f.view(-1, 1, 1, 1) * (img - mean)).clamp(0, 1)


def adjust_saturation(img: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    gray = grayscale(img)
    return (gray + f.view(-1, 1, 1, 1) * (img - gray)).clamp(0, 1)


def adjust_hue(img: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate chroma by `shift` turns (B,) in YIQ space."""
    m = _RGB2YIQ.to(img)
    yiq = torch.einsum("ij,bjhw->bihw", m, img)
    a = 2 * math.pi * shift.to(img).view(-1, 1, 1)
    c, s = torch.cos(a), torch.sin(a)
    i, q = yiq[:, 1], yiq[:, 2]
    yiq = torch.stack([yiq[:, 0], c * i - s * q, s * i + c * q], dim=1)
    return torch.einsum("ij,bjhw->bihw", torch.linalg.inv(m), yiq).clamp(0, 1)


def color_jitter(img: torch.Tensor, g: torch.Generator, strength=(0.5, 0.5, 0.5, 0.25), p: float = 0.8) -> torch.Tensor:
    """ColorJitter(b, c, s, h) applied to each image with probability p, in a random order per batch."""
    b = img.shape[0]
    on = (torch.rand(b, generator=g) < p).to(img.device)
    br, co, sa, hu = strength
    params = {
        "b": _u(g, b, 1 - br, 1 + br), "c": _u(g, b, 1 - co, 1 + co),
        "s": _u(g, b, 1 - sa, 1 + sa), "h": _u(g, b, -hu, hu),
    }
    ops = {"b": adjust_brightness, "c": adjust_contrast, "s": adjust_saturation, "h": adjust_hue}
    out = img
    for k in [("b", "c", "s", "h")[i] for i in torch.randperm(4, generator=g).tolist()]:
        out = ops[k](out, params[k].to(img.device))
    return torch.where(on.view(-1, 1, 1, 1), out, img)


def random_grayscale(img: torch.Tensor, g: torch.Generator, p: float = 0.2) -> torch.Tensor:
    on = (torch.rand(img.shape[0], generator=g) < p).to(img.device)
    return torch.where(on.view(-1, 1, 1, 1), grayscale(img), img)


def gaussian_blur(img: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of one (1, 3, H, W) or (B, 3, H, W) tensor with a single sigma."""
    r = max(1, int(math.ceil(3 * sigma)))
    r = min(r, img.shape[-1] - 1, img.shape[-2] - 1)
    x = torch.arange(-r, r + 1, dtype=img.dtype, device=img.device)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    k = k / k.sum()
    c = img.shape[1]
    out = F.conv2d(F.pad(img, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(F.pad(out, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def random_blur(img: torch.Tensor, g: torch.Generator, p: float = 0.5, sigma=(0.1, 2.0)) -> torch.Tensor:
    out = img.clone()
    for i in range(img.shape[0]):
        if float(torch.rand(1, generator=g)) < p:
            s = float(_u(g, 1, *sigma))
            out[i : i + 1] = gaussian_blur(img[i : i + 1], s)
    return out


def cutmix_boxes(b: int, h: int, w: int, g: torch.Generator, p: float = 0.5, area=(0.02, 0.4),
                 ratio=(0.3, 1 / 0.3)) -> torch.Tensor:
    """(B, H, W) bool box masks; an image gets a box with probability p (else an all-False mask)."""
    boxes = torch.zeros(b, h, w, dtype=torch.bool)
    for i in range(b):
        if float(torch.rand(1, generator=g)) >= p:
            continue
        for _ in range(20):  # resample until the box fits, as UniMatch does
            a = float(_u(g, 1, *area)) * h * w
            r = float(_u(g, 1, *ratio))
            bw, bh = int(round(math.sqrt(a * r))), int(round(math.sqrt(a / r)))
            if 0 < bw <= w and 0 < bh <= h:
                break
        else:
            bw, bh = max(1, w // 4), max(1, h // 4)
        x0 = int(torch.randint(0, w - bw + 1, (1,), generator=g))
        y0 = int(torch.randint(0, h - bh + 1, (1,), generator=g))
        boxes[i, y0 : y0 + bh, x0 : x0 + bw] = True
    return boxes


def apply_cutmix(img: torch.Tensor, boxes: torch.Tensor, partner: torch.Tensor) -> torch.Tensor:
    """Paste `partner` (B, 3, H, W) into `img` where `boxes` (B, H, W) is True."""
    return torch.where(boxes[:, None].to(img.device), partner, img)


def strong_color(img: torch.Tensor, g: torch.Generator, cfg=None) -> torch.Tensor:
    """Color jitter, random grayscale, random blur (the photometric part of the student's perturbation);
    `cfg` is a training.config.AugmentCfg (None: its defaults)."""
    from .config import AugmentCfg

    cfg = cfg or AugmentCfg()
    img = color_jitter(img, g, tuple(cfg.jitter), cfg.jitter_p)
    img = random_grayscale(img, g, cfg.grayscale_p)
    return random_blur(img, g, cfg.blur_p, tuple(cfg.blur_sigma))
