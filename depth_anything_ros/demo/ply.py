"""PLY writing for the demo's point cloud: Open3D when installed, else a small ASCII writer.

Open3D is optional (a large wheel that pulls in system libraries such as libusb); the demo must
work from a minimal install, so a dependency-free ASCII PLY writer is the fallback.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def write_ply(path: str | Path, xyz: np.ndarray, rgb: np.ndarray | None = None, prefer_open3d: bool = True) -> str:
    """Write finite points (N, 3) float and optional colours (N, 3) uint8; returns the writer used."""
    xyz = np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
    keep = np.isfinite(xyz).all(axis=1)
    xyz = xyz[keep]
    if rgb is not None:
        rgb = np.asarray(rgb, dtype=np.uint8).reshape(-1, 3)[keep]
    if prefer_open3d:
        try:
            import open3d as o3d
        except Exception:  # noqa: BLE001 - missing wheel or missing system library
            o3d = None
        if o3d is not None:
            pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(xyz))
            if rgb is not None:
                pc.colors = o3d.utility.Vector3dVector(rgb.astype(np.float64) / 255.0)
            if not o3d.io.write_point_cloud(str(path), pc, write_ascii=False):
                raise OSError(f"open3d could not write {path}")
            return "open3d"
    write_ascii_ply(path, xyz, rgb)
    return "ascii"


def write_ascii_ply(path: str | Path, xyz: np.ndarray, rgb: np.ndarray | None = None) -> None:
    """Minimal ASCII PLY 1.0: float x y z [uchar red green blue] per vertex."""
    header = ["ply", "format ascii 1.0", f"element vertex {len(xyz)}",
              "property float x", "property float y", "property float z"]
    if rgb is not None:
        header += ["property uchar red", "property uchar green", "property uchar blue"]
    header.append("end_header")
    with open(path, "w") as fh:
        fh.write("\n".join(header) + "\n")
        if rgb is None:
            np.savetxt(fh, xyz, fmt="%.5f")
        else:
            np.savetxt(fh, np.hstack([xyz, rgb.astype(np.float64)]), fmt=["%.5f"] * 3 + ["%d"] * 3)


def read_ply_points(path: str | Path) -> np.ndarray:
    """Vertices (N, 3) of a PLY file (Open3D for binary files, our parser for ASCII ones)."""
    with open(path, "rb") as fh:
        head = fh.read(200)
    if b"format ascii" in head:
        lines = Path(path).read_text().splitlines()
        n = int(next(ln for ln in lines if ln.startswith("element vertex")).split()[-1])
        start = lines.index("end_header") + 1
        return np.array([[float(v) for v in ln.split()[:3]] for ln in lines[start:start + n]]).reshape(-1, 3)
    import open3d as o3d

    return np.asarray(o3d.io.read_point_cloud(str(path)).points)
