"""What every reader shares: the dataset interface and the standard evaluation crops."""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from ..sample import RGBDSample


def eigen_crop_nyu(h: int, w: int) -> np.ndarray:
    """NYUv2 Eigen crop: rows 45:471, cols 41:601 of a 480x640 frame (scaled for other sizes)."""
    m = np.zeros((h, w), bool)
    if (h, w) == (480, 640):
        m[45:471, 41:601] = True
    else:
        m[int(round(45 / 480 * h)):int(round(471 / 480 * h)), int(round(41 / 640 * w)):int(round(601 / 640 * w))] = True
    return m


def garg_crop(h: int, w: int) -> np.ndarray:
    """Garg crop (KITTI): rows [0.40810811 H, 0.99189189 H), cols [0.03594771 W, 0.96405229 W)."""
    m = np.zeros((h, w), bool)
    m[int(0.40810811 * h):int(0.99189189 * h), int(0.03594771 * w):int(0.96405229 * w)] = True
    return m


def eigen_crop_kitti(h: int, w: int) -> np.ndarray:
    """Eigen crop on KITTI: rows [0.3324324 H, 0.91351351 H), cols [0.0359477 W, 0.96405229 W)."""
    m = np.zeros((h, w), bool)
    m[int(0.3324324 * h):int(0.91351351 * h), int(0.0359477 * w):int(0.96405229 * w)] = True
    return m


class DepthDataset:
    """Base for readers: a torch-Dataset-compatible sequence of RGBDSample.

    Attributes: name, min_depth, max_depth (evaluation range in metres), eval_crop (callable (h, w) -> bool
    mask, or None for the full frame).
    """

    name: str = "dataset"
    min_depth: float = 1e-3
    max_depth: float = 80.0
    eval_crop: Optional[Callable[[int, int], np.ndarray]] = None

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def __getitem__(self, index: int) -> RGBDSample:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_index(self, index: int) -> int:
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"index {index} out of range for {self.name} with {n} samples")
        return index

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]
