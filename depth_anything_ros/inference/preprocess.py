"""Image -> network input and network output -> image resolution (spec §1.7). numpy + OpenCV only.

The official rule ("lower_bound", keep aspect, multiple of 14, cv2 INTER_CUBIC) scales the image so
that its shorter side reaches the target (518) and rounds each side to a multiple of 14 with
round-half-to-even, taking the next multiple up when rounding would fall below the target.
"""
from __future__ import annotations

import cv2
import numpy as np

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
PATCH = 14


def _to_multiple(x: float, minimum: int, multiple: int = PATCH) -> int:
    y = int(np.round(x / multiple) * multiple)
    if y < minimum:
        y = int(np.ceil(x / multiple) * multiple)
    return y


def official_network_size(height: int, width: int, target: int = 518, multiple: int = PATCH) -> tuple[int, int]:
    """Network (H, W) the official preprocessing gives an image of `height`×`width` (e.g. 480×640 -> 518×686)."""
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    scale = max(target / height, target / width)  # lower_bound: the larger scale
    return _to_multiple(scale * height, target, multiple), _to_multiple(scale * width, target, multiple)


def parse_size(text: str) -> tuple[int, int]:
    """'518x392' or '518' -> (H, W), both multiples of 14."""
    parts = text.lower().split("x")
    try:
        h, w = (int(parts[0]), int(parts[-1])) if len(parts) <= 2 else (None, None)
    except ValueError:
        h = w = None
    if h is None or h <= 0 or w <= 0:
        raise ValueError(f"size must look like HxW (e.g. 518x392), got {text!r}")
    if h % PATCH or w % PATCH:
        raise ValueError(f"size {h}x{w}: both sides must be multiples of {PATCH}")
    return h, w


class Preprocessor:
    """RGB uint8 (H, W, 3) -> float32 (1, 3, h, w), ImageNet-normalised.

    `network_size=None` applies the official rule per image (`target` is its shorter side);
    a fixed (h, w) resizes every frame to that size (one static shape per camera stream).
    """

    def __init__(self, network_size: tuple[int, int] | None = None, target: int = 518):
        if network_size is not None and (network_size[0] % PATCH or network_size[1] % PATCH):
            raise ValueError(f"network size {network_size} must be multiples of {PATCH}")
        self.network_size = tuple(network_size) if network_size else None
        self.target = target
        self._scale = (1.0 / (255.0 * IMAGENET_STD)).astype(np.float32)
        self._offset = (-IMAGENET_MEAN / IMAGENET_STD).astype(np.float32)

    def size_for(self, height: int, width: int) -> tuple[int, int]:
        return self.network_size or official_network_size(height, width, self.target)

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected an RGB image (H, W, 3), got shape {rgb.shape}")
        h, w = self.size_for(*rgb.shape[:2])
        # The official pipeline resizes the [0, 1] float image; cubic overshoot is kept, as there.
        img = cv2.resize(rgb.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
        # Normalise channel by channel straight into the NCHW batch: 3x faster than broadcasting
        # over HWC and transposing (this runs on every frame of the node).
        batch = np.empty((1, 3, h, w), np.float32)
        for c in range(3):
            np.multiply(img[:, :, c], self._scale[c], out=batch[0, c])
            batch[0, c] += self._offset[c]
        return batch


def resize_output(pred: np.ndarray, height: int, width: int, out: np.ndarray | None = None) -> np.ndarray:
    """Network output (h, w) -> (height, width), bilinear, float32; written into `out` when given."""
    pred = np.asarray(pred, dtype=np.float32)
    if pred.shape == (height, width):
        if out is None:
            return pred
        np.copyto(out, pred)
        return out
    return cv2.resize(pred, (width, height), dst=out, interpolation=cv2.INTER_LINEAR)
