"""Throughput of the synthetic RGB-D engine (frames/s, end to end: scene sampling + render + read-back +
RGBDSample), for several sizes and views per scene, plus the shard writer (adds PNG encoding).

    .venv/bin/python benchmarks/bench_synthetic.py                       # GL, 256 and 518, 1/4/8 views
    .venv/bin/python benchmarks/bench_synthetic.py --renderer ray --frames 8 --sizes 256 --views 4
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from depth_anything_ros.data.synthetic import SceneSampler, make_renderer, render_frames  # noqa: E402


def bench_stream(renderer, size: int, views: int, frames: int, seed: int) -> float:
    t0 = time.perf_counter()
    n = sum(1 for _ in render_frames("labeled", seed, frames, size, size, views_per_scene=views, renderer=renderer))
    return n / (time.perf_counter() - t0)


def bench_parts(renderer, size: int, scenes: int, seed: int) -> tuple[float, float]:
    """Mean ms for sampling a scene spec and for rendering one view."""
    t_scene = t_render = 0.0
    for i in range(scenes):
        t0 = time.perf_counter()
        s = SceneSampler(seed + i, "labeled")
        scene = s.scene(0)
        cam = s.camera(scene, 0, size, size)
        t1 = time.perf_counter()
        renderer.render(scene, cam)
        t_render += time.perf_counter() - t1
        t_scene += t1 - t0
    return 1000 * t_scene / scenes, 1000 * t_render / scenes


def bench_shards(size: int, views: int, frames: int, renderer_name: str) -> float:
    from training.data_cli import write_shard

    with tempfile.TemporaryDirectory() as d:
        res = write_shard("labeled", Path(d), frames, size, size, 10_000, views, renderer_name, progress=False)
    return res["fps"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--renderer", default="gl", choices=["gl", "ray", "auto"])
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 518])
    p.add_argument("--views", type=int, nargs="+", default=[1, 4, 8])
    p.add_argument("--frames", type=int, default=96, help="frames per measurement")
    p.add_argument("--no-shards", action="store_true", help="skip the shard-writer measurement")
    args = p.parse_args()
    r = make_renderer(args.renderer)
    ctx = getattr(r, "ctx", None)
    gl = ctx.info.get("GL_RENDERER", "?") if ctx is not None else "numpy"
    print(f"renderer {r.name} ({gl}); {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}")
    # warm-up: texture pools, shader compile, first-frame costs
    for _ in render_frames("labeled", 900_000, 2, 64, 64, views_per_scene=2, renderer=r):
        pass
    print("| size | views/scene | frames/s (stream) |")
    print("|---|---|---|")
    for size in args.sizes:
        for views in args.views:
            fps = bench_stream(r, size, views, args.frames, seed=1000 * size + views)
            print(f"| {size}x{size} | {views} | {fps:.1f} |", flush=True)
    for size in args.sizes:
        ms_scene, ms_render = bench_parts(r, size, max(4, args.frames // 8), seed=50_000 + size)
        print(f"{size}x{size}: scene sampling {ms_scene:.1f} ms/scene, render + read-back {ms_render:.1f} ms/view")
    if not args.no_shards:
        for size in args.sizes:
            fps = bench_shards(size, 4, max(8, args.frames // 2), args.renderer)
            print(f"shard writer {size}x{size}, 4 views/scene: {fps:.1f} frames/s (incl. PNG encode)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
