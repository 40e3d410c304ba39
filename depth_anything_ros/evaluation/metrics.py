"""Depth metrics (Eigen / ZoeDepth definitions) and the zero-shot scale-and-shift alignment.

Pinned conventions (p = prediction, g = ground truth, over valid pixels, float64):
    abs_rel  = mean(|p - g| / g)
    sq_rel   = mean((p - g)^2 / g)               (Eigen; NOT the KITTI-devkit mean(((p - g) / g)^2))
    rmse     = sqrt(mean((p - g)^2))
    rmse_log = sqrt(mean((ln p - ln g)^2))
    log10    = mean(|log10 p - log10 g|)
    silog    = 100 * sqrt(mean(e^2) - mean(e)^2),  e = ln p - ln g   (ZoeDepth: lambda = 1, x100)
    d1,d2,d3 = mean(max(p / g, g / p) < 1.25^k)  (strict <)
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

METRIC_KEYS = ("abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "silog", "d1", "d2", "d3")
# lower is better for all but the deltas
HIGHER_IS_BETTER = {"d1", "d2", "d3"}


def compute_metrics(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None) -> dict:
    """Eigen/ZoeDepth depth metrics over `valid` pixels (also requires gt > 0 and pred > 0 finite).

    Returns a dict with METRIC_KEYS plus "n" (number of pixels used); NaN metrics when n == 0.
    """
    pred = np.asarray(pred, np.float64)
    gt = np.asarray(gt, np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in shape")
    m = np.isfinite(gt) & (gt > 0) & np.isfinite(pred) & (pred > 0)
    if valid is not None:
        m &= np.asarray(valid, bool)
    p, g = pred[m], gt[m]
    out = {"n": int(m.sum())}
    if p.size == 0:
        out.update({k: float("nan") for k in METRIC_KEYS})
        return out
    ratio = np.maximum(p / g, g / p)
    e = np.log(p) - np.log(g)
    out.update(
        abs_rel=float(np.mean(np.abs(p - g) / g)),
        sq_rel=float(np.mean((p - g) ** 2 / g)),
        rmse=float(np.sqrt(np.mean((p - g) ** 2))),
        rmse_log=float(np.sqrt(np.mean(e**2))),
        log10=float(np.mean(np.abs(np.log10(p) - np.log10(g)))),
        silog=float(100.0 * np.sqrt(max(np.mean(e**2) - np.mean(e) ** 2, 0.0))),
        d1=float(np.mean(ratio < 1.25)),
        d2=float(np.mean(ratio < 1.25**2)),
        d3=float(np.mean(ratio < 1.25**3)),
    )
    return out


class Alignment(NamedTuple):
    """Result of `align_scale_shift_disparity`: disparity = scale * pred + shift."""

    scale: float
    shift: float
    disparity: np.ndarray  # aligned disparity (float64, full image)


def align_scale_shift_disparity(pred_disp: np.ndarray, gt_depth: np.ndarray, valid: np.ndarray) -> Alignment:
    """Least-squares (s, t) minimising sum over valid pixels of (s * pred + t - 1 / gt)^2 (MiDaS protocol; docs/data.md).

    Solved from the 2x2 normal equations in float64. Raises ValueError with fewer than 2 valid pixels or a
    constant prediction (the system is singular).
    """
    p = np.asarray(pred_disp, np.float64)
    gt = np.asarray(gt_depth, np.float64)
    m = np.asarray(valid, bool) & np.isfinite(gt) & (gt > 0) & np.isfinite(p)
    if m.sum() < 2:
        raise ValueError("need at least 2 valid pixels to fit scale and shift")
    x, y = p[m], 1.0 / gt[m]
    n = float(x.size)
    sxx, sx, sxy, sy = float(np.dot(x, x)), float(x.sum()), float(np.dot(x, y)), float(y.sum())
    det = sxx * n - sx * sx
    if abs(det) <= 1e-12 * max(sxx * n, 1e-300):
        raise ValueError("prediction is constant on the valid pixels; scale and shift are undetermined")
    s = (sxy * n - sx * sy) / det
    t = (sxx * sy - sx * sxy) / det
    return Alignment(float(s), float(t), s * p + t)


def disparity_to_depth(disp: np.ndarray, min_depth: float, max_depth: float) -> np.ndarray:
    """Variant Z of the zero-shot protocol (docs/data.md): clamp disparity >= 1/max_depth, invert, clamp depth to [min_depth, max_depth]."""
    d = np.maximum(np.asarray(disp, np.float64), 1.0 / max_depth)
    return np.clip(1.0 / d, min_depth, max_depth)


def relative_metrics(pred_disp: np.ndarray, gt: np.ndarray, valid: np.ndarray, min_depth: float,
                     max_depth: float, with_disparity_variant: bool = True) -> dict:
    """Zero-shot protocol for affine-invariant disparity predictions.

    Fit scale and shift in disparity on valid pixels, then (variant Z) metrics in depth; the keys of variant D
    (metrics between aligned disparity and 1/gt) are prefixed "disp_". Also returns "scale" and "shift".
    """
    al = align_scale_shift_disparity(pred_disp, gt, valid)
    out = compute_metrics(disparity_to_depth(al.disparity, min_depth, max_depth), gt, valid)
    if with_disparity_variant:
        gd = np.where(np.asarray(gt) > 0, 1.0 / np.maximum(np.asarray(gt, np.float64), 1e-12), 0.0)
        dm = compute_metrics(al.disparity, gd, valid)
        out.update({f"disp_{k}": v for k, v in dm.items() if k in METRIC_KEYS})
    out.update(scale=al.scale, shift=al.shift)
    return out


def metric_depth_metrics(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray, min_depth: float,
                         max_depth: float) -> dict:
    """Metric models (ZoeDepth eval step 2): NaN -> min, inf -> max, clamp to [min, max], then metrics."""
    p = np.nan_to_num(np.asarray(pred, np.float64), nan=min_depth, posinf=max_depth, neginf=min_depth)
    return compute_metrics(np.clip(p, min_depth, max_depth), gt, valid)


def scale_in_depth(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray, method: str = "median") -> float:
    """The one scale s with s * pred ~ gt on valid pixels, for metric predictions: "median" = median(g / p),
    "lstsq" = argmin sum (s p - g)^2 = <p, g> / <p, p>. Raises ValueError without valid pixels."""
    p = np.asarray(pred, np.float64)
    g = np.asarray(gt, np.float64)
    m = np.asarray(valid, bool) & np.isfinite(g) & (g > 0) & np.isfinite(p) & (p > 0)
    if not m.any():
        raise ValueError("no valid pixels to fit a scale")
    if method == "median":
        return float(np.median(g[m] / p[m]))
    if method == "lstsq":
        return float(np.dot(p[m], g[m]) / np.dot(p[m], p[m]))
    raise ValueError(f"unknown scale alignment {method!r}; expected median or lstsq")


def metric_aligned_metrics(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray, min_depth: float,
                           max_depth: float, method: str = "median") -> dict:
    """Metric predictions with their per-image scale fitted in depth (`scale_in_depth`), clamped, then
    metrics; also returns "scale". The right alignment for a metric model (never disparity scale+shift)."""
    s = scale_in_depth(pred, gt, valid, method)
    out = metric_depth_metrics(s * np.asarray(pred, np.float64), gt, valid, min_depth, max_depth)
    out["scale"] = s
    return out


def eval_mask(gt: np.ndarray, valid: np.ndarray, min_depth: float, max_depth: float,
              crop: np.ndarray | None = None) -> np.ndarray:
    """valid & min_depth < gt < max_depth (strict, as ZoeDepth) & crop."""
    g = np.asarray(gt, np.float64)
    with np.errstate(invalid="ignore"):
        m = np.asarray(valid, bool) & np.isfinite(g) & (g > min_depth) & (g < max_depth)
    if crop is not None:
        m &= crop
    return m


def mean_metrics(rows: list[dict]) -> dict:
    """Per-key mean over samples (NaN-aware), the usual 'average of per-image metrics' convention."""
    keys = [k for k in rows[0] if isinstance(rows[0][k], (int, float)) and k != "n"] if rows else []
    out = {}
    for k in keys:
        vals = np.array([r[k] for r in rows if k in r], np.float64)
        out[k] = float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")
    return out
