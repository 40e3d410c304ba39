"""The one sample type every reader and the synthetic engine return."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np


@dataclass
class RGBDSample:
    """One RGB-D frame.

    image:  uint8 HxWx3 RGB.
    depth:  float32 HxW planar z in metres; invalid pixels hold 0 or NaN (always use `valid`).
    valid:  bool HxW.
    K:      float64 3x3, OpenCV convention (pixel centres at integer coordinates).
    source: dataset name + id, e.g. "synthetic:l0000012_03".
    pose:   optional float64 4x4 T_world_cam (camera-to-world, camera x right, y down, z forward).
    """

    image: np.ndarray
    depth: np.ndarray
    valid: np.ndarray
    K: np.ndarray
    source: str
    pose: Optional[np.ndarray] = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        h, w = self.image.shape[:2]
        if self.image.dtype != np.uint8 or self.image.ndim != 3 or self.image.shape[2] != 3:
            raise ValueError(f"image must be uint8 HxWx3, got {self.image.dtype} {self.image.shape}")
        if self.depth.shape != (h, w) or self.valid.shape != (h, w):
            raise ValueError(f"depth {self.depth.shape} / valid {self.valid.shape} do not match image {(h, w)}")
        self.depth = np.asarray(self.depth, dtype=np.float32)
        self.valid = np.asarray(self.valid, dtype=bool)
        self.K = np.asarray(self.K, dtype=np.float64).reshape(3, 3)
        if self.pose is not None:
            self.pose = np.asarray(self.pose, dtype=np.float64).reshape(4, 4)

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])
