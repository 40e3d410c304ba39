"""Training losses of Depth Anything (V1 Sec. 3, V2 Sec. 7 metric fine-tuning).

- `affine_invariant_loss`: MiDaS scale-and-shift-invariant MAE on disparity. Each map is normalised by
  its own median t and mean absolute deviation s over its valid pixels, d_hat = (d - t) / s, separately
  for prediction and target; the loss is the mean |d_hat_pred - d_hat_target| over valid pixels, averaged
  over the images of the batch that have any valid pixel.
- `cutmix_affine_invariant_loss`: the unlabeled loss under CutMix. The student saw a mixed image; inside
  the box M the target is the partner's pseudo-label, outside it the image's own. Each region is
  normalised on its own pixels and the two region losses are averaged with weights = region areas / HW.
- `feature_alignment_loss`: 1 - cos between student tokens and frozen-encoder tokens, averaged over the
  tokens whose cosine similarity is at most the tolerance margin alpha = 0.85 (tokens already more
  similar than alpha are left out); 0 when no token is left.
- `silog_loss`: V2 metric fine-tuning, sqrt(mean(g^2) - lambda * mean(g)^2), g = ln gt - ln pred, lambda 0.5.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

EPS = 1e-6


def masked_median(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-row lower median of x (B, N) over mask (B, N); 0 for rows without any masked element."""
    big = torch.finfo(x.dtype).max
    # push unmasked values to +inf-like so that sorting keeps the masked ones first
    vals = torch.where(mask, x, torch.full_like(x, big)).sort(dim=1).values
    n = mask.sum(dim=1)
    idx = ((n - 1).clamp(min=0) // 2).long()  # lower median, like torch.median
    med = vals.gather(1, idx[:, None]).squeeze(1)
    return torch.where(n > 0, med, torch.zeros_like(med))


def normalize_disparity(d: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(d - median) / mean|d - median|, both over mask, per image; d and mask are (B, H, W)."""
    b = d.shape[0]
    flat, m = d.reshape(b, -1), mask.reshape(b, -1)
    t = masked_median(flat, m)
    dev = (flat - t[:, None]).abs() * m
    s = dev.sum(dim=1) / m.sum(dim=1).clamp(min=1)
    return ((flat - t[:, None]) / s.clamp(min=EPS)[:, None]).reshape(d.shape)


def _per_image_affine_invariant(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor):
    """(per-image loss (B,), has-pixels (B,) bool)."""
    mask = mask.bool()
    p = normalize_disparity(pred, mask)
    t = normalize_disparity(target, mask)
    b = pred.shape[0]
    err = ((p - t).abs() * mask).reshape(b, -1).sum(dim=1)
    n = mask.reshape(b, -1).sum(dim=1)
    return err / n.clamp(min=1), n > 0


def affine_invariant_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Scale-and-shift-invariant MAE (V1 Eq. 1-2, MiDaS Eq. 1-3) of (B, H, W) disparity maps over `mask`.

    Images with no valid pixel are skipped; the loss is 0 (with a gradient path) if none has any.
    """
    if mask is None:
        mask = torch.ones_like(pred, dtype=torch.bool)
    per_image, has = _per_image_affine_invariant(pred, target, mask)
    if not bool(has.any()):
        return pred.sum() * 0.0
    return per_image[has].mean()


def cutmix_affine_invariant_loss(pred: torch.Tensor, target_own: torch.Tensor, target_partner: torch.Tensor,
                                 box: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Unlabeled loss under CutMix (V1 Sec. 3.2): area-weighted sum of the two region losses, per image.

    pred: student output on the mixed image; box: (B, H, W) bool, True where the partner image was pasted;
    target_own / target_partner: teacher disparity of the image itself / of the partner (pixel-aligned).
    L = (|box| / HW) * rho(pred, partner | box) + (|~box| / HW) * rho(pred, own | ~box), averaged over the
    batch. An image whose box is empty reduces to the plain affine-invariant loss.
    """
    box = box.bool()
    if mask is None:
        mask = torch.ones_like(box)
    mask = mask.bool()
    b = pred.shape[0]
    hw = float(box[0].numel())
    l_in, _ = _per_image_affine_invariant(pred, target_partner, mask & box)
    l_out, _ = _per_image_affine_invariant(pred, target_own, mask & ~box)
    w_in = box.reshape(b, -1).sum(dim=1) / hw
    w_out = (~box).reshape(b, -1).sum(dim=1) / hw
    return (w_in * l_in + w_out * l_out).mean()


def feature_alignment_loss(student: torch.Tensor, frozen: torch.Tensor, margin: float = 0.85) -> torch.Tensor:
    """Mean of 1 - cos(f, f') over tokens with cos <= margin (V1 Sec. 3.3, tolerance margin alpha = 0.85).

    student, frozen: (B, N, D) patch tokens; `frozen` is detached here. Tokens whose similarity already
    exceeds the margin are excluded; with none left the loss is 0 (and still part of the graph).
    """
    cos = F.cosine_similarity(student, frozen.detach(), dim=-1)
    keep = cos <= margin
    if not bool(keep.any()):
        return student.sum() * 0.0
    return (1.0 - cos[keep]).mean()


def silog_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, lam: float = 0.5) -> torch.Tensor:
    """Scale-invariant log loss of V2 metric fine-tuning (lambda 0.5 in its released code), over all masked
    pixels of the batch.

    g = ln target - ln pred; L = sqrt(mean(g^2) - lam * mean(g)^2). The prediction is clamped at 1e-6 so a
    saturated Sigmoid cannot give log(0); the official code has no epsilon, and for pred > 1e-6 it is equal.
    """
    mask = mask.bool()
    if not bool(mask.any()):
        return pred.sum() * 0.0
    g = torch.log(target[mask]) - torch.log(pred[mask].clamp(min=1e-6))
    return torch.sqrt((g.pow(2).mean() - lam * g.mean().pow(2)).clamp(min=0.0) + 1e-12)


def depth_to_disparity_target(depth: torch.Tensor, valid: torch.Tensor, invalid_is_sky: bool = False):
    """GT depth (B, H, W) -> (disparity normalised to [0, 1] per map over valid pixels, loss mask).

    Spec §5.1: d = 1/t, then min-max normalised per map. With `invalid_is_sky` (true for the synthetic
    engine, whose only invalid pixels are sky) invalid pixels get disparity 0 and join the loss mask, as the
    paper does for segmented sky.
    """
    valid = valid.bool() & (depth > 0)
    disp = torch.where(valid, 1.0 / depth.clamp(min=EPS), torch.zeros_like(depth))
    b = depth.shape[0]
    flat, m = disp.reshape(b, -1), valid.reshape(b, -1)
    big = torch.finfo(disp.dtype).max
    lo = torch.where(m, flat, torch.full_like(flat, big)).min(dim=1).values
    hi = torch.where(m, flat, torch.full_like(flat, -big)).max(dim=1).values
    lo = torch.where(m.any(dim=1), lo, torch.zeros_like(lo))
    hi = torch.where(m.any(dim=1), hi, torch.ones_like(hi))
    norm = ((flat - lo[:, None]) / (hi - lo).clamp(min=EPS)[:, None]).clamp(0, 1) * m
    norm = norm.reshape(depth.shape)
    mask = torch.ones_like(valid) if invalid_is_sky else valid
    return norm, mask
