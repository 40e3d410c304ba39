"""The robust per-frame fit of the model output to metric anchors.

Models and residuals (x = model output at the anchor pixel, z = anchor depth, r = relative depth error):
  "scale"  metric models, depth = s·x;              r = |s·x − z| / z
  "affine" relative models, inverse depth = s·x + t; r = |z·(s·x + t) − 1| (relative error of the inverse depth)
  "inverse_scale" relative models with one anchor (a rangefinder): inverse depth = s·x, t = 0.

Method: RANSAC on minimal sets (1 anchor for a scale, 2 for scale and shift) scored by the count of anchors
with r < `threshold`, then least squares on the inliers, re-selected and refitted twice. Chosen over Huber
IRLS and trimmed LS after measuring them (benchmarks/bench_scale_fit.py, docs/scale.md): with 30 % gross
outliers (LiDAR points through edges, moving objects, obstacles in a ground fit) a plain LS start drags
Huber and trimmed LS towards the outliers, while RANSAC's consensus does not depend on the start. Noiseless
anchors give the exact answer (the final LS on exact inliers is exact).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MODES = ("scale", "affine", "inverse_scale")


@dataclass
class Fit:
    """One frame's fit: ok with the parameters, or not ok with the reason."""

    ok: bool
    scale: float = float("nan")
    shift: float = 0.0
    inliers: int = 0
    anchors: int = 0
    residual: float = float("nan")  # median relative depth error of the inliers
    reason: str = ""
    reason_kind: str = "fit"  # short category for throttled logs
    ref: tuple = ()  # model values where the smoother compares fits (10th/90th percentile of the inliers' x)


def _residual(mode: str, s, t, x, z):
    if mode == "scale":
        return np.abs(s * x - z) / z
    return np.abs(z * (s * x + t) - 1.0)


def _lsq(mode: str, x, z) -> tuple[float, float]:
    """Least squares of the relative residual on the given anchors."""
    if mode == "scale":
        w = x / z  # minimise sum((s x - z) / z)^2 -> s = sum(x/z) / sum((x/z)^2)
        return float(w.sum() / np.dot(w, w)), 0.0
    if mode == "inverse_scale":
        a = z * x  # minimise sum(z s x - 1)^2
        return float(a.sum() / np.dot(a, a)), 0.0
    a = np.stack([z * x, z], axis=1)  # minimise sum(z (s x + t) - 1)^2
    sol, *_ = np.linalg.lstsq(a, np.ones_like(z), rcond=None)
    return float(sol[0]), float(sol[1])


def fit_scale(x: np.ndarray, z: np.ndarray, mode: str, threshold: float = 0.1, min_inliers: int = 20,
              iterations: int = 64, max_score: int = 2000, seed: int = 0) -> Fit:
    """Robust fit of model values `x` to anchor depths `z` (same length; non-finite or non-positive pairs
    are dropped). Returns `Fit(ok=False, reason=...)` with too few usable anchors or inliers."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    x = np.asarray(x, np.float64).ravel()
    z = np.asarray(z, np.float64).ravel()
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(x) & np.isfinite(z) & (z > 0) & (x > 0 if mode != "affine" else np.isfinite(x))
    x, z = x[ok], z[ok]
    n = int(z.size)
    need = max(int(min_inliers), 2 if mode == "affine" else 1)
    if n < need:
        return Fit(False, anchors=n, reason=f"{n} usable anchors, need at least {need}")
    rng = np.random.default_rng(seed)
    # score on a fixed subsample: the consensus of 2000 anchors is as good as of 10k, at a fifth of the cost
    score_idx = rng.choice(n, max_score, replace=False) if n > max_score else np.arange(n)
    xs, zs = x[score_idx], z[score_idx]
    if mode == "affine":
        i, j = rng.integers(0, n, (2, iterations))
        # two anchors: s x_i + t = 1/z_i, s x_j + t = 1/z_j
        dx = x[i] - x[j]
        with np.errstate(divide="ignore", invalid="ignore"):
            s = (1.0 / z[i] - 1.0 / z[j]) / dx
            t = 1.0 / z[i] - s * x[i]
        s = np.append(s, _lsq(mode, x, z)[0])
        t = np.append(t, _lsq(mode, x, z)[1])
    else:
        k = rng.integers(0, n, iterations)
        s = z[k] / x[k] if mode == "scale" else 1.0 / (z[k] * x[k])
        s = np.append(s, np.exp(np.median(np.log(z / x) if mode == "scale" else -np.log(z * x))))
        t = np.zeros_like(s)
    good = np.isfinite(s) & np.isfinite(t) & (s > 0)
    if not good.any():
        return Fit(False, anchors=n, reason="no usable hypothesis (model output constant on the anchors?)")
    s, t = s[good], t[good]
    scores = (_residual(mode, s[:, None], t[:, None], xs[None, :], zs[None, :]) < threshold).sum(axis=1)
    best = int(np.argmax(scores))
    sb, tb = float(s[best]), float(t[best])
    for _ in range(3):
        inl = _residual(mode, sb, tb, x, z) < threshold
        if inl.sum() < need:
            break
        sb, tb = _lsq(mode, x[inl], z[inl])
    inl = _residual(mode, sb, tb, x, z) < threshold
    m = int(inl.sum())
    if m < need or not (np.isfinite(sb) and sb > 0):
        return Fit(False, anchors=n, inliers=m, reason=f"{m} of {n} anchors agree within {threshold:.0%}, "
                                                       f"need at least {need}")
    res = float(np.median(_residual(mode, sb, tb, x[inl], z[inl])))
    ref = tuple(float(v) for v in np.percentile(x[inl], (10, 90))) if mode == "affine" else ()
    if len(ref) == 2 and not ref[1] > ref[0]:
        ref = ref[:1]
    return Fit(True, sb, tb, m, n, res, ref=ref)
