"""Image -> network input and network output -> image resolution, as the official inference does.
numpy + OpenCV only (the node runs without torch); the rules and their sources are in docs/inference.md.

The official rule ("lower_bound", keep aspect, multiple of 14, cv2 INTER_CUBIC) scales the image so
that its shorter side reaches the target (518) and rounds each side to a multiple of 14 with
round-half-to-even, taking the next multiple up when rounding would fall below the target.
"""
from __future__ import annotations

import functools
import threading

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


# How each official inference brings the network output back to the image (bilinear either way):
# V2 `infer_image` interpolates with align_corners=True, V1 `run.py` with align_corners=False.
ALIGN_CORNERS = {"v1": False, "v2": True}


@functools.lru_cache(maxsize=32)
def _axis(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """align_corners=True sampling of one axis: left index, right index, float32 weight of the right one.
    Computed in float32 like torch's CPU kernel (scale = (n_in - 1) / (n_out - 1), src = scale * dst)."""
    scale = np.float32((n_in - 1) / (n_out - 1)) if n_out > 1 else np.float32(0.0)
    src = scale * np.arange(n_out, dtype=np.float32)
    left = np.minimum(src.astype(np.intp), n_in - 1)
    right = np.minimum(left + 1, n_in - 1)
    return left, right, (src - left.astype(np.float32)).astype(np.float32)


_scratch = threading.local()  # per thread: intermediate buffers by shape (fresh large arrays page-fault each frame)


def _buffer(name: str, shape: tuple[int, int]) -> np.ndarray:
    cache = getattr(_scratch, "buffers", None)
    if cache is None:
        cache = _scratch.buffers = {}
    buf = cache.get(name)
    if buf is None or buf.shape != shape:
        buf = cache[name] = np.empty(shape, np.float32)
    return buf


def _resize_align_corners(pred: np.ndarray, height: int, width: int, out: np.ndarray) -> np.ndarray:
    """Separable bilinear with align_corners=True, written into `out`.

    By hand because OpenCV has no align-corners mode: cv2.resize samples at half-pixel centres, and
    cv2.remap / warpAffine quantise coordinates to 1/32 pixel (errors far above float precision)."""
    h, w = pred.shape
    x0, x1, fx = _axis(w, width)
    y0, y1, fy = _axis(h, height)
    cols, right, below = _buffer("cols", (h, width)), _buffer("right", (h, width)), _buffer("below", (height, width))
    np.take(pred, x0, axis=1, out=cols)  # interpolate along x first: (h, width)
    np.take(pred, x1, axis=1, out=right)
    np.subtract(right, cols, out=right)
    np.multiply(right, fx, out=right)
    np.add(cols, right, out=cols)
    np.take(cols, y0, axis=0, out=out)  # then along y, into the caller's memory
    np.take(cols, y1, axis=0, out=below)
    np.subtract(below, out, out=below)
    np.multiply(below, fy[:, None], out=below)
    np.add(out, below, out=out)
    return out


def resize_output(pred: np.ndarray, height: int, width: int, version: str,
                  out: np.ndarray | None = None) -> np.ndarray:
    """Network output (h, w) -> (height, width), float32, by the official inference rule of `version`
    (see ALIGN_CORNERS); written into `out` when given (e.g. the memory of the message that carries it)."""
    if version not in ALIGN_CORNERS:
        raise ValueError(f"version must be one of {', '.join(ALIGN_CORNERS)}, got {version!r}")
    pred = np.asarray(pred, dtype=np.float32)
    if out is None:
        out = np.empty((height, width), np.float32)
    if pred.shape == (height, width):
        np.copyto(out, pred)
        return out
    if ALIGN_CORNERS[version]:
        return _resize_align_corners(pred, height, width, out)
    # cv2's bilinear is exactly align_corners=False (half-pixel centres, no antialias), and 8x faster.
    return cv2.resize(pred, (width, height), dst=out, interpolation=cv2.INTER_LINEAR)
