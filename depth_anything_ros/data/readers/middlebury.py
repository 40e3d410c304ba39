"""The one real metric RGB-D frame on disk: Middlebury 2014 "Motorcycle" shipped with scikit-image."""
from __future__ import annotations

import numpy as np

from .base import DepthDataset
from ..sample import RGBDSample

# calibration of the x4-downsampled pair, from skimage.data.stereo_motorcycle's docstring
FOCAL_PX = 994.978
CX, CY = 311.193, 254.877
BASELINE_M = 0.193001
DOFFS_PX = 31.086


class MiddleburyMotorcycle(DepthDataset):
    """One sample: the left image with metric depth Z = f * B / (d + doffs) from the GT disparity.

    Pixels with unknown disparity (inf, about 7.3 %) are invalid. No crop; range 1e-3..80 m (the scene is
    2.1-5.0 m). Cite Scharstein et al., GCPR 2014.
    """

    name = "middlebury"
    min_depth, max_depth = 1e-3, 80.0
    eval_crop = None

    def __init__(self):
        import skimage.data

        left, _right, disp = skimage.data.stereo_motorcycle()
        disp = disp.astype(np.float64)
        valid = np.isfinite(disp) & (disp > 0)
        depth = np.zeros(disp.shape, np.float32)
        depth[valid] = FOCAL_PX * BASELINE_M / (disp[valid] + DOFFS_PX)
        self._sample = RGBDSample(
            image=np.ascontiguousarray(left[..., :3]), depth=depth, valid=valid,
            K=np.array([[FOCAL_PX, 0.0, CX], [0.0, FOCAL_PX, CY], [0.0, 0.0, 1.0]]),
            source="middlebury:motorcycle",
        )

    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int) -> RGBDSample:
        self._check_index(index)
        s = self._sample
        return RGBDSample(image=s.image.copy(), depth=s.depth.copy(), valid=s.valid.copy(), K=s.K.copy(), source=s.source)
