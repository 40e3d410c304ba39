"""The focal rule for metric networks.

A metric network learns metres from apparent size at its training focal length f_t (pixels of its network
input). Seeing a camera whose focal length at the network input is f_c, it predicts depth × f_t / f_c
(an object looks as large as one f_t / f_c times nearer or farther), so the output is multiplied by f_c / f_t.
"""
from __future__ import annotations

import numpy as np


def network_focal(K: np.ndarray, image_size: tuple[int, int], network_size: tuple[int, int]) -> float:
    """The camera's focal length in pixels of the network input: mean of fx·Wn/W and fy·Hn/H.

    `image_size` (H, W) is the size K belongs to, `network_size` (Hn, Wn) the size the image is resized to.
    """
    (h, w), (hn, wn) = image_size, network_size
    return 0.5 * (float(K[0, 0]) * wn / w + float(K[1, 1]) * hn / h)


def focal_factor(training_focal: float | None, K: np.ndarray | None, image_size: tuple[int, int],
                 network_size: tuple[int, int] | None) -> float | None:
    """f_c / f_t, the factor for the metric output; None when it cannot be computed (no training focal,
    no or unusable K, unknown network size)."""
    if not training_focal or K is None or network_size is None or not training_focal > 0:
        return None
    fc = network_focal(K, image_size, network_size)
    if not np.isfinite(fc) or fc <= 0:
        return None
    return fc / float(training_focal)
