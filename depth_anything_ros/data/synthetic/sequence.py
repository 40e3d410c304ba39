"""Sequences: one static scene seen by a camera that moves through it, with ground truth.

Used for the temporal-stability metric of `eval --anchors` (frame-to-frame variation of the error) and for the
focal-rule check (the same scenes rendered at two fields of view). The camera starts at view 0 of the
scene's sampler and moves forward along its horizontal heading by `step` metres a frame while turning
slowly (`yaw_rate` rad a frame). Frame ids sort in time order: `q<kind initial><seed>_<frame>`.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .. import shards
from .scene import GENERATOR_VERSION, SceneSampler, intrinsics, rot_z

STEP = {"indoor": 0.04, "street": 0.4}  # metres per frame (about 0.4 and 4 m/s at 10 Hz)


def sequence_cameras(sampler: SceneSampler, scene: dict, frames: int, height: int, width: int,
                     fov_deg: float | None = None, step: float | None = None, yaw_rate: float = 0.01) -> list[dict]:
    """Camera specs of a forward-moving, slowly turning camera (the first is the sampler's view 0)."""
    cam0 = sampler.camera(scene, 0, height, width)
    K = np.asarray(cam0["K"]) if fov_deg is None else intrinsics(width, height, fov_deg)
    T0 = np.asarray(cam0["T_world_cam"])
    fwd = T0[:3, 2].copy()
    fwd[2] = 0.0
    fwd /= max(np.linalg.norm(fwd), 1e-9)
    step = STEP[scene["kind"]] if step is None else step
    cams = []
    for i in range(frames):
        T = T0.copy()
        T[:3, :3] = rot_z(i * yaw_rate) @ T0[:3, :3]
        T[:3, 3] = T0[:3, 3] + i * step * fwd
        cams.append({"K": K.tolist(), "T_world_cam": T.tolist(), "width": int(width), "height": int(height)})
    return cams


def write_sequence(out: Path, seed: int, kind: str, frames: int, height: int, width: int, renderer,
                   fov_deg: float | None = None, domain: str = "eval") -> list[str]:
    """Render one sequence into a shard directory (readable by `--dataset synthetic:DIR`); returns frame ids."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sampler = SceneSampler(seed, domain, kind)
    scene = sampler.scene(0)
    ids = []
    for i, cam in enumerate(sequence_cameras(sampler, scene, frames, height, width, fov_deg)):
        frame = renderer.render(scene, cam)
        fid = f"q{scene['kind'][0]}{int(seed):05d}_{i:03d}"
        K = np.asarray(cam["K"])
        meta = {"id": fid, "domain": domain, "seed": int(seed), "view": i, "kind": scene["kind"], "sequence": True,
                "generator_version": GENERATOR_VERSION, "renderer": frame.renderer, "degraded": False,
                "K": K.tolist(), "T_world_cam": cam["T_world_cam"], "width": width, "height": height,
                "fov_x_deg": math.degrees(2 * math.atan(width / 2 / K[0, 0]))}
        shards.write_frame(out, fid, frame.rgb, frame.depth, frame.valid, meta)
        ids.append(fid)
    return ids


def main(argv=None) -> int:
    """`python -m depth_anything_ros.data.synthetic.sequence --out DIR --kind indoor --seeds 101 102 --frames 16`."""
    import argparse

    from .stream import make_renderer

    ap = argparse.ArgumentParser(description="render camera-motion sequences (static scene, ground truth) as a shard")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--kind", choices=("indoor", "street"), default="indoor")
    ap.add_argument("--seeds", type=int, nargs="+", default=[101])
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", default="266x350", help="HxW")
    ap.add_argument("--fov", type=float, default=None, help="fixed horizontal FOV in degrees (default: the sampler's)")
    ap.add_argument("--renderer", default="auto", choices=("auto", "gl", "ray"))
    args = ap.parse_args(argv)
    h, w = (int(v) for v in args.size.lower().split("x"))
    r = make_renderer(args.renderer)
    n = sum(len(write_sequence(args.out, s, args.kind, args.frames, h, w, r, args.fov)) for s in args.seeds)
    print(f"wrote {n} frames to {args.out} (eval with --dataset synthetic:{args.out})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
