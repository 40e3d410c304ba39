"""Render the demo's bundled frame sequence: one indoor synthetic scene, a short camera move.

    python demo/make_frames.py [--out demo/frames] [--count 24] [--size 640x480] [--seed 7]

Writes `NNNN.jpg` (quality 85) and `camera_info.yaml` (pinhole, no distortion) with the synthetic
RGB-D engine (`depth_anything_ros.data.synthetic`). The camera starts at the scene sampler's first view and
dollies forward while panning slowly (deterministic for a given seed). Total size stays under 3 MB.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def camera_path(cam0: dict, count: int, forward_m: float = 0.6, pan_deg: float = 14.0) -> list[dict]:
    """`count` camera specs: dolly `forward_m` along the view axis while yawing by ±pan_deg/2 about the camera's up axis."""
    T0 = np.asarray(cam0["T_world_cam"], np.float64)
    cams = []
    for i in range(count):
        a = i / max(count - 1, 1)
        yaw = math.radians(pan_deg) * (a - 0.5)
        c, s = math.cos(yaw), math.sin(yaw)
        R_local = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])  # about camera y (down)
        T = T0.copy()
        T[:3, :3] = T0[:3, :3] @ R_local
        T[:3, 3] = T0[:3, 3] + T0[:3, 2] * (forward_m * a)
        cams.append({**cam0, "T_world_cam": T.tolist()})
    return cams


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=ROOT / "demo" / "frames")
    p.add_argument("--count", type=int, default=24)
    p.add_argument("--size", default="640x480", help="WxH")
    p.add_argument("--seed", type=int, default=7, help="scene seed (eval domain, indoor)")
    p.add_argument("--renderer", default="auto", help="auto | gl | ray")
    p.add_argument("--quality", type=int, default=85)
    args = p.parse_args(argv)
    import cv2

    from depth_anything_ros.demo.camera_yaml import write_camera_yaml
    from depth_anything_ros.data.synthetic import SceneSampler, make_renderer

    w, h = (int(v) for v in args.size.lower().split("x"))
    sampler = SceneSampler(args.seed, "eval", "indoor")
    scene = sampler.scene(0)
    cam0 = sampler.camera(scene, 0, h, w)
    renderer = make_renderer(args.renderer)
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("*.jpg"):
        old.unlink()
    total = 0
    for i, cam in enumerate(camera_path(cam0, args.count)):
        frame = renderer.render(scene, cam)
        path = args.out / f"{i:04d}.jpg"
        cv2.imwrite(str(path), cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, args.quality])
        total += path.stat().st_size
    write_camera_yaml(args.out / "camera_info.yaml", np.asarray(cam0["K"]), w, h, name=f"synthetic_indoor_{args.seed}")
    print(f"{args.count} frames ({total / 1e6:.2f} MB) and camera_info.yaml in {args.out} "
          f"(renderer {getattr(frame, 'renderer', '?')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
