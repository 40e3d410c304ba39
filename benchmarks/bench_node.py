"""Node overhead per frame: everything the depth node does except the model forward pass.

    .venv/bin/python benchmarks/bench_node.py [--frames 300] [--model CKPT] [--write-docs]

Runs the real `DepthAnythingNode` in this process (isolated ROS domain, loopback only) with a sink
process subscribed to every output, and feeds 640x480 rgb8 frames straight into its image callback at
30 Hz. The engine's `infer` is replaced by a stub returning a real output of the right shape, so the
timed path is: decode, preprocess, output resize, NaN masking, point cloud (xyz+rgb, organized),
preview, message fill and publish of depth/image, depth/camera_info, depth/points and depth/colored.
The forward pass is timed separately (same model, same thread count) to state the overhead as a
fraction of the frame time. Also prints a per-stage breakdown (no DDS) and JPEG decode for compressed input.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time

import numpy as np
from _node_common import (camera_info, demo_frame, make_node, model_for_timing, start_sink, stop_process,
                          update_docs_section, wait_for_sink)


def _stats(ms) -> tuple[float, float]:
    a = np.asarray(ms)
    return float(np.median(a)), float(np.percentile(a, 99))


def _time(fn, n: int) -> list[float]:
    fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1e3)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--model", default=None, help="checkpoint (default: demo model, else random vitt at 266x350)")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads for the forward timing (default 1)")
    p.add_argument("--rate", type=float, default=30.0, help="frames per second fed to the callback (0 = back to back)")
    p.add_argument("--stride", type=int, default=1, help="points_stride (default 1: full organized cloud)")
    p.add_argument("--write-docs", action="store_true", help="update the '## Node' section of docs/benchmarks.md")
    args = p.parse_args(argv)

    from depth_anything_ros.ros.env import isolate_this_process

    isolate_this_process()
    import rclpy
    import torch

    from depth_anything_ros.ros import conversions as conv

    model, model_desc = model_for_timing(args.model)
    sink = start_sink()
    rclpy.init()
    node = make_node(model, num_threads=args.threads, points_stride=args.stride, diagnostics_period=60.0)
    core = node.core
    est = core.estimator
    rgb, K = demo_frame()
    h, w = rgb.shape[:2]
    net = est.preprocessor.size_for(h, w)

    # forward pass alone (what the stub removes)
    batch = est.preprocessor(rgb)
    forward = _time(lambda: est.engine.infer(batch), 20)
    raw_out = est.engine.infer(batch)
    est.engine.infer = lambda b: raw_out  # the stub: a real output, no compute

    core.on_camera_info(camera_info(K, w, h))
    msg = conv.numpy_to_image(rgb, "rgb8")
    msg.header.frame_id = "camera_optical_frame"
    if not wait_for_sink(node):
        print("bench_node: the sink process did not subscribe within 60 s", file=sys.stderr)
        return 1
    per_frame = []
    period = 1.0 / args.rate if args.rate > 0 else 0.0
    t_next = time.monotonic()
    for i in range(args.warmup + args.frames):
        msg.header.stamp = node.get_clock().now().to_msg()
        t = time.perf_counter()
        core.on_image(msg)
        dt = (time.perf_counter() - t) * 1e3
        if i >= args.warmup:
            per_frame.append(dt)
        t_next += period
        time.sleep(max(0.0, t_next - time.monotonic()))
    back_to_back = []  # same path, frames one after another (warm caches, no idle wake-ups)
    for i in range(args.frames):
        msg.header.stamp = node.get_clock().now().to_msg()
        t = time.perf_counter()
        core.on_image(msg)
        back_to_back.append((time.perf_counter() - t) * 1e3)
    snap = core.stats.snapshot()
    assert snap["frames_processed"] == args.warmup + 2 * args.frames, snap

    # per-stage breakdown, no DDS except the publish row
    pipe = core.pipeline
    cam = core.camera
    out_size = (h, w)
    jpeg = conv.encode_compressed(rgb, "jpeg", quality=90)
    raw = pipe.infer(rgb, out_size)
    depth = pipe.to_depth(raw)
    outs = pipe.fill(raw, rgb, msg.header, cam)
    from depth_anything_ros.geometry import backproject, pack_rgb_float
    from depth_anything_ros.inference.preprocess import resize_output

    Ks, _ = pipe.scaled_camera(cam, out_size)
    pts = backproject(depth, pipe.rays.get(Ks, h, w, 1), 1, pack_rgb_float(rgb))
    stages = {
        "decode rgb8 Image": _time(lambda: conv.image_msg_to_rgb(msg), 100),
        "preprocess (resize to network, normalise)": _time(lambda: est.preprocessor(rgb), 100),
        "output resize to 640x480": _time(lambda: resize_output(raw_out[0], h, w), 100),
        "NaN masking (min/max depth)": _time(lambda: pipe.to_depth(raw), 100),
        "point cloud xyz+rgb (cached rays)": _time(
            lambda: backproject(depth, pipe.rays.get(Ks, h, w, 1), 1, pack_rgb_float(rgb)), 100),
        "preview colormap": _time(lambda: pipe.preview(depth), 100),
        "message fill (4 messages, tobytes)": _time(lambda: (
            conv.numpy_to_image(depth, "32FC1", msg.header), conv.numpy_to_image(outs.colored and depth, "32FC1"),
            conv.pointcloud2_message(pts, msg.header, True)), 100),
        "publish (4 topics, 1 subscriber process)": _time(lambda: [core.pubs[k].publish(getattr(outs, m)) for k, m in (
            ("depth", "depth"), ("camera_info", "camera_info"), ("points", "points"), ("colored", "colored"))], 100),
        "(compressed input) JPEG decode, not in total": _time(lambda: conv.compressed_msg_to_rgb(jpeg), 50),
    }
    node.destroy_node()
    rclpy.try_shutdown()
    stop_process(sink)

    med, p99 = _stats(per_frame)
    bmed, bp99 = _stats(back_to_back)
    fmed, fp99 = _stats(forward)
    frac = med / (med + fmed)
    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, " \
              f"{len(__import__('os').sched_getaffinity(0))} cores visible, load average " \
              f"{' '.join(f'{v:.1f}' for v in __import__('os').getloadavg())}"
    lines = [
        f"node overhead per frame (640x480 rgb8 in, cloud xyzrgb organized stride {args.stride}, "
        f"{args.frames} frames at {args.rate:g} Hz): median {med:.2f} ms, p99 {p99:.2f} ms",
        f"same, frames back to back: median {bmed:.2f} ms, p99 {bp99:.2f} ms",
        f"model forward ({model_desc}, network {net[0]}x{net[1]}, {args.threads} thread(s), torch): "
        f"median {fmed:.1f} ms, p99 {fp99:.1f} ms",
        f"overhead as a fraction of the frame time (overhead + forward): {100 * frac:.1f} %",
    ]
    print("\n".join(lines))
    print("per stage (median / p99 ms):")
    for k, v in stages.items():
        m, q = _stats(v)
        print(f"  {k:48s} {m:6.2f} / {q:6.2f}")
    print(f"machine: {machine}")
    if args.write_docs:
        rows = "\n".join(f"| {k} | {_stats(v)[0]:.2f} | {_stats(v)[1]:.2f} |" for k, v in stages.items())
        section = f"""## Node

### Per-frame overhead of the node (everything except the model forward)

Command: `.venv/bin/python benchmarks/bench_node.py --write-docs` (the real `DepthAnythingNode` in-process, its
engine stubbed to return a real output; a sink process subscribed to every output; frames fed to the image
callback at {args.rate:g} Hz). Machine: {machine}.

| measure | median (ms) | p99 (ms) |
|---|---|---|
| **node overhead per frame**: decode, preprocess, output resize, masking, cloud, preview, fill, publish | **{med:.2f}** | {p99:.2f} |
| same, frames fed back to back (warm caches) | {bmed:.2f} | {bp99:.2f} |
| model forward ({model_desc}; {net[0]}x{net[1]}, {args.threads} thread) | {fmed:.1f} | {fp99:.1f} |

Overhead as a fraction of the frame time with the demo model (overhead / (overhead + forward)): **{100 * frac:.1f} %**.
Goal: median <= 3 ms. Breakdown per stage (measured separately, no DDS except the publish row):

| stage | median (ms) | p99 (ms) |
|---|---|---|
{rows}
"""
        update_docs_section(section)
        print("docs/benchmarks.md: '## Node' section updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
