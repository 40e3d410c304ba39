"""KITTI Eigen split with projected-LiDAR ground truth (PNG, metres x 256)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import shards
from .base import DepthDataset, garg_crop
from ..sample import RGBDSample

KB_H, KB_W = 352, 1216


def read_calib_P(path: Path, cam: str) -> np.ndarray | None:
    """K (3x3) from P_rect_0{cam} in a calib_cam_to_cam.txt, or None."""
    if not path.exists():
        return None
    for line in path.read_text().splitlines():
        if line.startswith(f"P_rect_0{cam}:"):
            P = np.array([float(x) for x in line.split(":", 1)[1].split()]).reshape(3, 4)
            return P[:, :3].copy()
    return None


class KITTIEigen(DepthDataset):
    """KITTI Eigen test split in the BTS / ZoeDepth split-file format, one frame per line:

        2011_09_26/2011_09_26_drive_0002_sync/image_02/data/0000000069.png  2011_09_26_drive_0002_sync/proj_depth/groundtruth/image_02/0000000069.png  721.5377

    RGB paths are relative to `root`, depth paths to `depth_root` (default: root); lines whose depth is "None"
    are skipped. K comes from ROOT/{date}/calib_cam_to_cam.txt (P_rect_02 / P_rect_03) when present, else from the
    focal in the split line with the principal point at the image centre. With kb_crop (default) image, depth and
    K are cropped to the 352x1216 KITTI benchmark window. Eval: Garg crop, 1e-3..80 m.
    """

    name = "kitti"
    min_depth, max_depth = 1e-3, 80.0
    eval_crop = staticmethod(garg_crop)

    def __init__(self, root, split_file, depth_root=None, kb_crop: bool = True):
        self.root = Path(root)
        self.depth_root = Path(depth_root) if depth_root is not None else self.root
        self.kb_crop = kb_crop
        self.items = []
        for line in Path(split_file).read_text().splitlines():
            parts = line.split()
            if len(parts) < 2 or parts[1] == "None":
                continue
            focal = float(parts[2]) if len(parts) > 2 else None
            self.items.append((parts[0], parts[1], focal))
        if not self.items:
            raise ValueError(f"{split_file}: no frames with ground truth")

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> RGBDSample:
        rgb_rel, depth_rel, focal = self.items[self._check_index(index)]
        rgb = shards.read_rgb(self.root / rgb_rel)
        depth, valid = shards.decode_depth(shards.read_uint16(self.depth_root / depth_rel), 256.0)
        h, w = rgb.shape[:2]
        cam = "3" if "image_03" in rgb_rel else "2"
        K = read_calib_P(self.root / Path(rgb_rel).parts[0] / "calib_cam_to_cam.txt", cam)
        if K is None:
            if focal is None:
                raise ValueError(f"{rgb_rel}: no calib_cam_to_cam.txt and no focal in the split file")
            K = np.array([[focal, 0.0, w / 2 - 0.5], [0.0, focal, h / 2 - 0.5], [0.0, 0.0, 1.0]])
        if self.kb_crop and h >= KB_H and w >= KB_W:
            top, left = h - KB_H, (w - KB_W) // 2
            rgb, depth, valid = (a[top:top + KB_H, left:left + KB_W] for a in (rgb, depth, valid))
            K = K.copy()
            K[0, 2] -= left
            K[1, 2] -= top
        return RGBDSample(image=np.ascontiguousarray(rgb), depth=np.ascontiguousarray(depth),
                          valid=np.ascontiguousarray(valid), K=K, source=f"kitti:{rgb_rel}")
