"""Geometry and visualisation helpers shared by the CLI and the node (no rclpy, no torch)."""
from __future__ import annotations

import cv2
import numpy as np


def colorize(values: np.ndarray, valid: np.ndarray | None = None, inverse: bool = False,
             vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
    """Float map -> BGR uint8 preview with the turbo colormap; invalid pixels black.

    Near is warm: pass `inverse=True` for depth in metres (small = near), False for inverse depth.
    """
    values = np.asarray(values, dtype=np.float32)
    if valid is None:
        valid = np.isfinite(values)
    out = np.zeros(values.shape + (3,), np.uint8)
    if not valid.any():
        return out
    v = values[valid]
    lo = float(np.min(v)) if vmin is None else vmin
    hi = float(np.max(v)) if vmax is None else vmax
    norm = np.clip((values - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
    if inverse:
        norm = 1.0 - norm
    norm = np.where(valid, norm, 0.0)
    out = cv2.applyColorMap((norm * 255.0 + 0.5).astype(np.uint8), cv2.COLORMAP_TURBO)
    out[~valid] = 0
    return out
