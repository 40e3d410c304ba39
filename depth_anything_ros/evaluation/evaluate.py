"""Evaluate a depth predictor on a dataset: zero-shot relative protocol or direct metric depth.

relative: the prediction is affine-invariant disparity; fit scale and shift in disparity by least squares on the
          evaluation mask, then metrics in depth (variant Z; variant D is reported with a "disp_" prefix).
metric:   the prediction is metres; NaN -> min, inf -> max, clamp to [min_depth, max_depth], then metrics.
          With `align="median"` or `"lstsq"`, one scale per image is fitted in depth first (metric_aligned).
Mask: GT valid & min_depth < gt < max_depth & the dataset's eval crop. Metrics are averaged per image.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable

import numpy as np

from .metrics import (METRIC_KEYS, align_scale_shift_disparity, disparity_to_depth, eval_mask, mean_metrics,
                      metric_aligned_metrics, metric_depth_metrics, relative_metrics)

PredictFn = Callable[[np.ndarray], np.ndarray]


def _at_gt_size(pred: np.ndarray, h: int, w: int) -> np.ndarray:
    if pred.shape != (h, w):  # predictors return depth at the image's size (DepthEstimator.predict does)
        raise ValueError(f"prediction is {pred.shape[0]}x{pred.shape[1]}, ground truth {h}x{w}")
    return pred


def evaluate(predict_fn: PredictFn, dataset, kind: str = "relative", min_depth: float | None = None,
             max_depth: float | None = None, limit: int | None = None, output_dir=None, num_figures: int = 4,
             name: str | None = None, progress: bool = True, anchors=None, align: str | None = None) -> dict:
    """Run `predict_fn(rgb uint8 HxWx3) -> float32 HxW` on every sample of `dataset` and score it.

    min/max depth default to the dataset's attributes. Returns {"dataset", "kind", "count", "min_depth",
    "max_depth", "mean": {metric: value}, "per_sample": [{"source", metrics...}], "skipped": [...]}; with
    `output_dir`, also writes metrics.json and samples.png (RGB / GT / prediction / AbsRel error).
    `anchors`: an `anchored.AnchoredPredictor` (eval --anchors): each prediction is made metric by the node's
    scale code with anchors simulated from the ground truth, then scored directly; adds "temporal".
    """
    if kind not in ("relative", "metric"):
        raise ValueError(f"kind must be 'relative' or 'metric', got {kind!r}")
    if align is not None and kind != "metric":
        raise ValueError("align applies to metric predictions only (relative ones are aligned in disparity)")
    lo = float(min_depth if min_depth is not None else getattr(dataset, "min_depth", 1e-3))
    hi = float(max_depth if max_depth is not None else getattr(dataset, "max_depth", 80.0))
    crop_fn = getattr(dataset, "eval_crop", None)
    n = len(dataset) if limit is None else min(limit, len(dataset))
    rows, skipped, figs = [], [], []
    from tqdm import tqdm

    for i in tqdm(range(n), desc="eval", unit="img", disable=not progress):
        s = dataset[i]
        h, w = s.depth.shape
        mask = eval_mask(s.depth, s.valid, lo, hi, crop_fn(h, w) if crop_fn is not None else None)
        try:
            pred = _at_gt_size(np.asarray(predict_fn(s.image), np.float32), h, w)
            if anchors is not None:  # metric through the simulated anchors
                depth, why = anchors(pred, s)
                if depth is None:
                    skipped.append({"source": s.source, "reason": f"no metric scale: {why}"})
                    continue
                m = metric_depth_metrics(depth, s.depth, mask, lo, hi)
                shown = np.clip(np.nan_to_num(depth, nan=lo, posinf=hi, neginf=lo), lo, hi)
                with np.errstate(invalid="ignore", divide="ignore"):
                    m["log_scale_error"] = float(np.median(np.log(shown[mask] / s.depth[mask]))) if mask.any() else float("nan")
                m["scale"] = anchors.stage.status.scale
                m["anchor_inliers"] = anchors.stage.status.inliers
            elif kind == "relative":
                m = relative_metrics(pred, s.depth, mask, lo, hi)
                shown = disparity_to_depth(align_scale_shift_disparity(pred, s.depth, mask).disparity, lo, hi)
            elif align:
                m = metric_aligned_metrics(pred, s.depth, mask, lo, hi, align)
                shown = np.clip(np.nan_to_num(m["scale"] * pred, nan=lo, posinf=hi, neginf=lo), lo, hi)
            else:
                m = metric_depth_metrics(pred, s.depth, mask, lo, hi)
                shown = np.clip(np.nan_to_num(pred, nan=lo, posinf=hi, neginf=lo), lo, hi)
        except ValueError as exc:
            skipped.append({"source": s.source, "reason": str(exc)})
            continue
        if m["n"] == 0:
            skipped.append({"source": s.source, "reason": "no valid pixels after masking"})
            continue
        rows.append({"source": s.source, **m})
        if len(figs) < num_figures:
            figs.append((s.image, np.where(mask, s.depth, np.nan), shown, mask, s.source))
    result = {
        "dataset": name or getattr(dataset, "name", type(dataset).__name__), "kind": kind, "count": len(rows),
        "min_depth": lo, "max_depth": hi, "crop": getattr(crop_fn, "__name__", None) if crop_fn else None,
        "protocol": (f"anchors {anchors.spec.text}: node scale fit, then direct metric depth" if anchors is not None
                     else "lsq scale+shift in disparity, metrics in depth (variant Z); disp_* = variant D"
                     if kind == "relative" else f"metric depth, {align} scale per image in depth, clamped to [min, max]"
                     if align else "direct metric depth, clamped to [min, max]"),
        "mean": mean_metrics(rows), "per_sample": rows, "skipped": skipped,
    }
    if anchors is not None:
        from .anchored import temporal_stability

        result["temporal"] = temporal_stability(rows)
        result["kind"] = f"{kind}+anchors"
    if output_dir is not None:
        out = Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(result, indent=1, default=float))
        if figs:
            save_figure(figs, out / "samples.png", lo, hi)
    return result


def save_figure(figs, path, lo: float, hi: float) -> None:
    """Rows of RGB / GT depth / prediction (depth after alignment) / |p - g| / g, with matplotlib (Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(figs), 4, figsize=(14, 3.2 * len(figs)), squeeze=False)
    for row, (rgb, gt, pred, mask, src) in zip(axes, figs):
        vmin = np.nanpercentile(gt, 2) if np.isfinite(gt).any() else lo
        vmax = np.nanpercentile(gt, 98) if np.isfinite(gt).any() else hi
        err = np.where(mask, np.abs(pred - np.nan_to_num(gt, nan=1.0)) / np.nan_to_num(gt, nan=1.0), np.nan)
        panels = ((rgb, None, src), (gt, "turbo_r", "ground truth (m)"), (pred, "turbo_r", "prediction (m)"),
                  (err, "magma", "AbsRel error"))
        plot_row(fig, row, panels, vmin, vmax)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_row(fig, axes, panels, vmin: float, vmax: float) -> None:
    """One figure row: (image, cmap, title) panels; cmap None = RGB, "turbo_r" = depth in [vmin, vmax],
    anything else = an error map in [0, 0.3]; each map with its colour bar."""
    for ax, (img, cmap, title) in zip(axes, panels):
        if cmap is None:
            ax.imshow(img)
        else:
            kw = dict(vmin=vmin, vmax=vmax) if cmap == "turbo_r" else dict(vmin=0, vmax=0.3)
            im = ax.imshow(img, cmap=cmap, **kw)
            fig.colorbar(im, ax=ax, fraction=0.035)
        ax.set_title(title, fontsize=8)
        ax.axis("off")


def format_table(result: dict) -> str:
    """A plain-text table of the mean metrics (and the variant-D ones for relative evaluation)."""
    mean = result["mean"]
    keys = list(METRIC_KEYS)
    head = f"{result['dataset']} ({result['kind']}, {result['count']} images, {result['min_depth']:g}-{result['max_depth']:g} m)"
    lines = [head, "  ".join(f"{k:>8}" for k in ["variant"] + keys)]

    def fmt(v):
        return f"{v:8.4f}" if isinstance(v, float) and math.isfinite(v) else f"{'nan':>8}"

    lines.append("  ".join([f"{'depth':>8}"] + [fmt(mean.get(k, float('nan'))) for k in keys]))
    if result.get("temporal"):
        t = result["temporal"]
        lines.append(f"temporal ({t['frames']} frames in order): scale_jitter {t['scale_jitter']:.4f}  "
                     f"abs_rel_jitter {t['abs_rel_jitter']:.4f}")
    if result["kind"] == "relative":
        lines.append("  ".join([f"{'disp':>8}"] + [fmt(mean.get('disp_' + k, float('nan'))) for k in keys]))
    if result.get("skipped"):
        lines.append(f"skipped {len(result['skipped'])} image(s); see metrics.json")
    return "\n".join(lines)
