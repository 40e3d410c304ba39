"""NYU Depth v2 labeled set (`nyu_depth_v2_labeled.mat`, 1449 frames, 480x640)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import DepthDataset, eigen_crop_nyu
from ..sample import RGBDSample

# RGB intrinsics from the NYU toolbox (camera_params.m); Bouguet convention = pixel centres at integers
NYU_K = np.array([[518.8579, 0.0, 325.5824], [0.0, 519.4696, 253.7362], [0.0, 0.0, 1.0]])


def _read_indices(path) -> list[int]:
    """0-based indices from splits.mat (testNdxs, 1-based) or a text file of 1-based indices."""
    path = Path(path)
    if path.suffix == ".mat":
        import scipy.io

        return [int(i) - 1 for i in np.asarray(scipy.io.loadmat(str(path))["testNdxs"]).ravel()]
    return [int(tok) - 1 for tok in path.read_text().split()]


class NYUv2Labeled(DepthDataset):
    """Frames of the labeled .mat. MATLAB v7.3 files are HDF5 and read with h5py; there the axes are reversed
    (images N x 3 x 640 x 480, depths N x 640 x 480), so each frame is transposed back to 480 x 640.
    Older (v5) files are read with scipy.io.loadmat (480 x 640 x 3 x N).

    indices: 0-based frame indices, or split_file: splits.mat (testNdxs) or a text file of 1-based indices
    (the standard 654-frame test split). Eval: Eigen crop rows 45:471, cols 41:601; depth 1e-3..10 m.
    """

    name = "nyu"
    min_depth, max_depth = 1e-3, 10.0
    eval_crop = staticmethod(eigen_crop_nyu)

    def __init__(self, mat_path, indices=None, split_file=None):
        self.path = Path(mat_path)
        if not self.path.exists():
            raise FileNotFoundError(self.path)
        import h5py

        if h5py.is_hdf5(self.path):
            self._h5 = h5py.File(self.path, "r")
            self._images, self._depths, self._hdf5 = self._h5["images"], self._h5["depths"], True
            n = self._images.shape[0]
        else:
            import scipy.io

            mat = scipy.io.loadmat(str(self.path), variable_names=["images", "depths"])
            self._images, self._depths, self._hdf5 = mat["images"], mat["depths"], False
            n = self._images.shape[-1]
        if split_file is not None:
            indices = _read_indices(split_file)
        self.indices = list(range(n)) if indices is None else [int(i) for i in indices]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> RGBDSample:
        i = self.indices[self._check_index(index)]
        if self._hdf5:
            rgb = np.asarray(self._images[i]).transpose(2, 1, 0)
            depth = np.asarray(self._depths[i], np.float32).T
        else:
            rgb = self._images[..., i]
            depth = self._depths[..., i].astype(np.float32)
        valid = np.isfinite(depth) & (depth > 0)
        return RGBDSample(image=np.ascontiguousarray(rgb, np.uint8), depth=np.where(valid, depth, 0.0),
                          valid=valid, K=NYU_K.copy(), source=f"nyu:{i}")
