"""The synthetic shard format: one directory of per-frame files.

    DIR/shard.json              domain, generator version, size, views per scene (written first)
    DIR/{id}_rgb.png            uint8 RGB
    DIR/{id}_depth.png          uint16 depth * depth_scale, 0 = invalid (labeled and eval only)
    DIR/{id}_meta.json          K, T_world_cam, seed, view, kind, generator version, renderer, depth_scale
    DIR/sealed/{id}_depth.png   unlabeled only: the hidden depth, read only through SealedDepth

depth_scale is 1000 (millimetres, max 65.535 m) when every valid depth of the frame is below 65 m, else 256
(KITTI style, metres x 256, max 256 m; streets); the reader divides by the value in the meta file.
The meta file is written last, atomically: a frame is complete when its meta file exists.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..depth_io import metres_to_uint16, read_rgb, read_uint16, uint16_to_metres, write_png  # noqa: F401 (shard API)

MM_SCALE, KITTI_SCALE = 1000.0, 256.0
SEALED_DIR = "sealed"


def choose_depth_scale(depth: np.ndarray, valid: np.ndarray) -> float:
    """1000 (mm) if the frame fits in uint16 millimetres, else 256 (KITTI metres x 256)."""
    top = float(depth[valid].max()) if valid.any() else 0.0
    return MM_SCALE if top < 65.0 else KITTI_SCALE


def encode_depth(depth: np.ndarray, valid: np.ndarray, scale: float) -> np.ndarray:
    """Metres -> uint16 PNG values (the depth I/O rule: invalid and out-of-range pixels become 0)."""
    return metres_to_uint16(np.where(valid, depth, np.nan), scale)


decode_depth = uint16_to_metres


def write_json(path: Path, obj: dict) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True))
    os.replace(tmp, path)


def frame_complete(out: Path, fid: str) -> bool:
    return (Path(out) / f"{fid}_meta.json").exists()


def write_frame(out: Path, fid: str, rgb: np.ndarray, depth: np.ndarray, valid: np.ndarray, meta: dict,
                sealed: bool = False) -> None:
    """Write one frame; with sealed=True the depth goes to DIR/sealed/ instead of next to the RGB."""
    out = Path(out)
    scale = choose_depth_scale(depth, valid)
    ddir = out / SEALED_DIR if sealed else out
    ddir.mkdir(parents=True, exist_ok=True)
    write_png(out / f"{fid}_rgb.png", rgb)
    write_png(ddir / f"{fid}_depth.png", encode_depth(depth, valid, scale))
    meta = dict(meta, depth_scale=scale, depth_file=(f"{SEALED_DIR}/" if sealed else "") + f"{fid}_depth.png",
                depth_sealed=bool(sealed))
    write_json(out / f"{fid}_meta.json", meta)


def list_ids(out: Path) -> list[str]:
    """Complete frame ids in a shard directory, sorted."""
    return sorted(p.name[: -len("_meta.json")] for p in Path(out).glob("*_meta.json"))
