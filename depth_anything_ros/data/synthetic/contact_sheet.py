"""The documentation contact sheet: RGB and colourised depth for a dozen frames of every domain."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .stream import make_renderer, render_views


def colorize_depth(depth: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """RGB uint8 visualisation: inverse depth, 2-98 % percentile-normalised per frame, black where invalid."""
    out = np.zeros(depth.shape + (3,), np.uint8)
    if not valid.any():
        return out
    inv = np.zeros(depth.shape, np.float64)
    inv[valid] = 1.0 / depth[valid]
    lo, hi = np.percentile(inv[valid], [2, 98])
    x = np.clip((inv - lo) / max(hi - lo, 1e-9), 0, 1)
    col = cv2.applyColorMap((x * 255).astype(np.uint8), cv2.COLORMAP_TURBO)[..., ::-1]
    out[valid] = col[valid]
    return out


def contact_sheet(path, renderer: str = "auto", height: int = 192, width: int = 256) -> np.ndarray:
    """Render 12 frames (labeled / unlabeled / eval columns; 2 indoor + 2 street rows) and write a PNG."""
    r = make_renderer(renderer)
    cols = []
    for domain in ("labeled", "unlabeled", "eval"):
        cells = []
        for kind in ("indoor", "street"):
            for seed in (3, 4):
                (fid, frame, meta), = render_views(domain, seed, [1], height, width, r, kind)
                cell = np.concatenate([frame.rgb, colorize_depth(frame.depth, frame.valid)], axis=1)
                cell = np.ascontiguousarray(cell)
                label = f"{domain} {kind} {fid}"
                cv2.putText(cell, label, (5, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
                cv2.putText(cell, label, (5, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
                cells.append(np.pad(cell, ((2, 2), (2, 2), (0, 0)), constant_values=255))
        cols.append(np.concatenate(cells, axis=0))
    sheet = np.concatenate(cols, axis=1)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), sheet[..., ::-1])
    return sheet
