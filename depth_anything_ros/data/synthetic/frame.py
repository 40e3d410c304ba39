"""The renderers' output type and the camera helpers they share."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NEAR, FAR = 0.01, 1000.0  # metres; FAR also normalises the GL depth buffer (linear depth t / FAR)
EPS_T = 1e-3  # a hit needs t > EPS_T (both renderers use the same rule)


@dataclass
class Frame:
    """One rendered view: rgb uint8 HxWx3, depth float32 HxW planar z in metres (inf where nothing was hit,
    i.e. sky), valid bool HxW (hit pixels), K float64 3x3 (OpenCV), pose float64 4x4 T_world_cam."""

    rgb: np.ndarray
    depth: np.ndarray
    valid: np.ndarray
    K: np.ndarray
    pose: np.ndarray
    renderer: str = ""


def camera_arrays(camera: dict) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(K 3x3, T_world_cam 4x4, height, width) as float64 arrays from a camera spec."""
    K = np.asarray(camera["K"], np.float64).reshape(3, 3)
    T = np.asarray(camera["T_world_cam"], np.float64).reshape(4, 4)
    return K, T, int(camera["height"]), int(camera["width"])


def camera_rays(camera: dict) -> tuple[np.ndarray, np.ndarray]:
    """World origin (3,) and per-pixel world directions (H, W, 3) whose camera-frame z is exactly 1,
    so the ray parameter t of a hit *is* its planar depth. Pixel centres are at integer (u, v)."""
    K, T, h, w = camera_arrays(camera)
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    dc = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], axis=-1)
    return T[:3, 3].copy(), dc @ T[:3, :3].T
