"""Read synthetic shards (training/data/shards.py format) back as RGBDSample."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import shards
from .base import DepthDataset
from ..sample import RGBDSample


class SyntheticShards(DepthDataset):
    """All complete frames of a shard directory.

    For unlabeled shards the depth is sealed: samples come with depth 0 and valid all False, unless
    `sealed=True` is passed explicitly (only for measuring pseudo-label quality, never for training).
    min/max depth: 1e-3..80 m; no crop.
    """

    name = "synthetic"
    min_depth, max_depth = 1e-3, 80.0
    eval_crop = None

    def __init__(self, root, sealed: bool = False):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"no shard directory {self.root}")
        self.ids = shards.list_ids(self.root)
        self.sealed = bool(sealed)
        info = self.root / "shard.json"
        self.info = json.loads(info.read_text()) if info.exists() else {}

    def __len__(self) -> int:
        return len(self.ids)

    def meta(self, index: int) -> dict:
        fid = self.ids[self._check_index(index)]
        return json.loads((self.root / f"{fid}_meta.json").read_text())

    def __getitem__(self, index: int) -> RGBDSample:
        index = self._check_index(index)
        fid = self.ids[index]
        meta = self.meta(index)
        rgb = shards.read_rgb(self.root / f"{fid}_rgb.png")
        h, w = rgb.shape[:2]
        if meta.get("depth_sealed") and not self.sealed:
            depth, valid = np.zeros((h, w), np.float32), np.zeros((h, w), bool)
        else:
            depth, valid = shards.decode_depth(shards.read_uint16(self.root / meta["depth_file"]), meta["depth_scale"])
        return RGBDSample(image=rgb, depth=depth, valid=valid, K=np.asarray(meta["K"]), source=f"synthetic:{fid}",
                          pose=np.asarray(meta["T_world_cam"]), meta=meta)


class SealedDepth:
    """The hidden depth of an unlabeled shard, by frame id: `SealedDepth(dir)[fid] -> (depth, valid)`.

    Use it only to measure pseudo-label quality; the training loader must never see it.
    """

    def __init__(self, root):
        self.root = Path(root)
        self.dir = self.root / shards.SEALED_DIR
        if not self.dir.is_dir():
            raise FileNotFoundError(f"{self.root} has no sealed depth ({self.dir})")

    def ids(self) -> list[str]:
        return sorted(p.name[: -len("_depth.png")] for p in self.dir.glob("*_depth.png"))

    def __contains__(self, fid: str) -> bool:
        return (self.dir / f"{fid}_depth.png").exists()

    def __getitem__(self, fid: str) -> tuple[np.ndarray, np.ndarray]:
        meta = json.loads((self.root / f"{fid}_meta.json").read_text())
        return shards.decode_depth(shards.read_uint16(self.dir / f"{fid}_depth.png"), meta["depth_scale"])
