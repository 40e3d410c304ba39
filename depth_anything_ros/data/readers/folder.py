"""Generic RGB-D folder: the simplest way to bring your own data.

    ROOT/intrinsics.json   {"K": 3x3} or {"fx", "fy", "cx", "cy"}  (OpenCV, pixel centres at integers)
                           optional: "depth_scale" (PNG units per metre, default 1000 = millimetres),
                           "min_depth", "max_depth", "frames": {stem: {"K": ...}} per-frame overrides
    ROOT/rgb/{stem}.png|.jpg
    ROOT/depth/{stem}.png  uint16, depth_scale units per metre, 0 = invalid
          or {stem}.npy    float metres; 0, NaN and inf are invalid
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import shards
from .base import DepthDataset
from ..sample import RGBDSample

RGB_EXTS = (".png", ".jpg", ".jpeg")


def parse_K(d: dict) -> np.ndarray:
    if "K" in d:
        return np.asarray(d["K"], np.float64).reshape(3, 3)
    return np.array([[d["fx"], 0.0, d["cx"]], [0.0, d["fy"], d["cy"]], [0.0, 0.0, 1.0]], np.float64)


class RGBDFolder(DepthDataset):
    """Frames of a generic RGB-D folder (see module docstring); only stems with both RGB and depth are used."""

    name = "folder"
    eval_crop = None

    def __init__(self, root, min_depth: float | None = None, max_depth: float | None = None):
        self.root = Path(root)
        cfg_path = self.root / "intrinsics.json"
        if not cfg_path.exists():
            raise FileNotFoundError(f"{cfg_path} is missing (needs K or fx, fy, cx, cy)")
        self.cfg = json.loads(cfg_path.read_text())
        self.K = parse_K(self.cfg) if ("K" in self.cfg or "fx" in self.cfg) else None
        self.depth_scale = float(self.cfg.get("depth_scale", 1000.0))
        self.min_depth = float(min_depth if min_depth is not None else self.cfg.get("min_depth", 1e-3))
        self.max_depth = float(max_depth if max_depth is not None else self.cfg.get("max_depth", 80.0))
        rgb = {p.stem: p for p in sorted((self.root / "rgb").iterdir()) if p.suffix.lower() in RGB_EXTS}
        depth = {p.stem: p for p in sorted((self.root / "depth").iterdir()) if p.suffix.lower() in (".png", ".npy")}
        self.stems = sorted(set(rgb) & set(depth))
        self._rgb, self._depth = rgb, depth
        if not self.stems:
            raise FileNotFoundError(f"no matching rgb/ and depth/ files under {self.root}")

    def __len__(self) -> int:
        return len(self.stems)

    def __getitem__(self, index: int) -> RGBDSample:
        stem = self.stems[self._check_index(index)]
        rgb = shards.read_rgb(self._rgb[stem])
        dp = self._depth[stem]
        if dp.suffix.lower() == ".npy":
            depth = np.load(dp).astype(np.float32)
            valid = np.isfinite(depth) & (depth > 0)
            depth = np.where(valid, depth, 0.0).astype(np.float32)
        else:
            depth, valid = shards.decode_depth(shards.read_uint16(dp), self.depth_scale)
        if depth.shape != rgb.shape[:2]:
            raise ValueError(f"{stem}: depth {depth.shape} does not match RGB {rgb.shape[:2]}")
        frame = self.cfg.get("frames", {}).get(stem, {})
        K = parse_K(frame) if frame else self.K
        if K is None:
            raise ValueError(f"{stem}: no intrinsics (global K or frames.{stem}.K)")
        return RGBDSample(image=rgb, depth=depth, valid=valid, K=K, source=f"folder:{stem}")
