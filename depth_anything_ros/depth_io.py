"""The one place depth, images and sizes cross a file or message boundary (numpy + OpenCV only).

Depth in 16 bits follows REP 118's 16UC1 convention everywhere (node, predict, recorder, shards):
millimetres (or `scale` units per metre), and 0 means "no valid depth". A value that does not fit
(NaN, <= 0 after rounding, or above 65535) becomes 0, never a clipped value that would read as a real,
wrong distance. Relative models have no unit: their 16-bit files are min-max scaled to 1..65535
(0 = invalid), for looking at, not for measuring.
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

PATCH = 14
MM_PER_M = 1000.0
UINT16_MAX = 65535


def metres_to_uint16(depth: np.ndarray, scale: float = MM_PER_M, out: np.ndarray | None = None) -> np.ndarray:
    """float metres (NaN = invalid) -> uint16 `round(depth * scale)`, 0 where invalid or out of range.

    Written into `out` (uint16, same shape) when given, e.g. the memory of the message that carries it.
    """
    v = np.multiply(depth, np.float32(scale), dtype=np.float32)
    v += np.float32(0.5)  # round half up; then truncation by the unsafe cast below
    np.nan_to_num(v, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    v[(v < 1.0) | (v >= UINT16_MAX + 1.0)] = 0.0
    if out is None:
        out = np.empty(v.shape, np.uint16)
    np.copyto(out, v, casting="unsafe")
    return out


def uint16_to_metres(values: np.ndarray, scale: float = MM_PER_M) -> tuple[np.ndarray, np.ndarray]:
    """uint16 depth -> (float32 metres with 0 where invalid, valid mask)."""
    valid = values > 0
    return (values.astype(np.float32) / np.float32(scale)) * valid, valid


def relative_to_uint16(pred: np.ndarray) -> np.ndarray:
    """Relative (unitless) output -> uint16 min-max scaled to 1..65535 over its finite pixels, 0 = invalid."""
    valid = np.isfinite(pred)
    lo, hi = (float(pred[valid].min()), float(pred[valid].max())) if valid.any() else (0.0, 1.0)
    scaled = 1.0 + (np.where(valid, pred, lo) - lo) / max(hi - lo, 1e-12) * (UINT16_MAX - 1)
    return np.where(valid, np.round(scaled), 0).astype(np.uint16)


def write_png(path: str | Path, img: np.ndarray) -> Path:
    """Write an RGB uint8 (H, W, 3) or single-channel uint8/uint16 PNG atomically (temp file + rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp.png")
    data = img[..., ::-1] if img.ndim == 3 else img
    if not cv2.imwrite(str(tmp), np.ascontiguousarray(data)):
        raise OSError(f"{path}: could not write the PNG")
    os.replace(tmp, path)
    return path


def read_rgb(path: str | Path) -> np.ndarray:
    """An image file as RGB uint8 (H, W, 3). The pixel grid as stored: EXIF orientation is ignored
    (a camera's pixels are the truth the intrinsics describe). Raises ValueError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    img = cv2.imread(str(path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if img is None:
        raise ValueError(f"{path}: not a readable image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_uint16(path: str | Path) -> np.ndarray:
    """A single-channel 16-bit PNG as uint16 (H, W); ValueError naming the file otherwise."""
    path = Path(path)
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise FileNotFoundError(f"{path}: no such file or not an image")
    if img.dtype != np.uint16 or img.ndim != 2:
        raise ValueError(f"{path}: expected a single-channel uint16 PNG, got {img.dtype} {img.shape}")
    return img


def parse_size(text: str, multiple: int = PATCH) -> tuple[int, int]:
    """'518x392' -> (518, 392) (height x width); a single number N means NxN. Both sides positive and, when
    `multiple` > 1, multiples of it (network sizes are multiples of the 14-pixel patch). ValueError otherwise."""
    parts = str(text).strip().lower().split("x")
    try:
        vals = [int(p) for p in parts]
    except ValueError:
        vals = []
    if len(vals) == 1:
        vals *= 2
    if len(vals) != 2 or min(vals) <= 0:
        raise ValueError(f"size must look like HxW (e.g. 518x392), got {text!r}")
    h, w = vals
    if multiple > 1 and (h % multiple or w % multiple):
        raise ValueError(f"size {h}x{w}: both sides must be multiples of {multiple}")
    return h, w


def parse_sizes(text: str, multiple: int = PATCH) -> list[tuple[int, int]]:
    """'308x308,518x392' -> [(308, 308), (518, 392)]; ValueError when empty or malformed."""
    parts = [s.strip() for s in str(text).split(",") if s.strip()]
    if not parts:
        raise ValueError(f"give sizes like 308x308,518x392, got {text!r}")
    return [parse_size(s, multiple) for s in parts]
