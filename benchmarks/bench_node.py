"""Node overhead per frame: everything the depth node does except the model forward pass.

    .venv/bin/python benchmarks/bench_node.py [--frames 600] [--model CKPT] [--write-docs]

Runs the real `DepthAnythingNode` in this process (isolated ROS domain, loopback only) with a sink
process subscribed to every output (depth/image, depth/camera_info, depth/points, depth/colored) and
feeds 640x480 rgb8 frames straight into its image callback. Three measures, one run:

1. stubbed forward at 30 Hz (the goal's measure): the engine's `infer` returns a real output of the
   right shape without computing, so the callback time is decode, preprocess, output resize, NaN
   masking, point cloud (xyz+rgb, organized), preview, message fill and publish. The CPU idles
   between frames, as it does while a GPU runs the model.
2. the same, frames back to back.
3. real forward (the demo model on torch CPU, 1 thread): callback time minus the forward time
   measured inside the same callback, frame by frame; the model evicts the caches between frames.
4. as 1, with a sink on depth/image, depth/camera_info and depth/points only (a robot: Nav2, rtabmap;
   nobody watching the preview, so `lazy_outputs` does not make it).

Also the forward pass alone (to state the overhead as a fraction of the frame time) and a per-stage
breakdown (no DDS except the publish row).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np
from _node_common import (camera_info, demo_frame, make_node, model_for_timing, start_sink, stop_process,
                          update_docs_section, wait_for_sink)

HEADING = "### Per-frame overhead of the node (everything except the model forward)"


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


CPU_MS: dict[str, list[float]] = {}  # measure -> CPU time of the calling thread per callback (ms)


def _feed(node, msg, frames: int, rate: float, cpu_key: str | None = None) -> list[float]:
    """Callback time (ms) of `frames` frames given to the image callback at `rate` Hz (0 = back to back).

    With `cpu_key`, also the callback's CPU time in this thread (time.thread_time: unaffected by waiting for
    a core that other processes hold, which dominates the wall time on a shared machine) into CPU_MS."""
    core, out = node.core, []
    cpu = CPU_MS.setdefault(cpu_key, []) if cpu_key else None
    period = 1.0 / rate if rate > 0 else 0.0
    t_next = time.monotonic()
    for _ in range(frames):
        msg.header.stamp = node.get_clock().now().to_msg()
        t, c = time.perf_counter(), time.thread_time()
        core.on_image(msg)
        out.append((time.perf_counter() - t) * 1e3)
        if cpu is not None:
            cpu.append((time.thread_time() - c) * 1e3)
        if period:
            t_next += period
            time.sleep(max(0.0, t_next - time.monotonic()))
    return out


def _machine() -> str:
    import cv2
    import torch
    from importlib.metadata import version

    return (f"{platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} cores visible, load average "
            f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}; Python {platform.python_version()}, numpy "
            f"{np.__version__}, OpenCV {cv2.__version__}, torch {torch.__version__}, rclpy {version('ros-rclpy')} "
            f"(Fast DDS, config/fastdds_large_data.xml)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=600, help="frames per stubbed measure (default 600)")
    p.add_argument("--forward-frames", type=int, default=150, help="frames with the real forward (default 150)")
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--model", default=None, help="checkpoint (default: demo model, else random vitt at 266x350)")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads for the forward (default 1)")
    p.add_argument("--rate", type=float, default=30.0, help="frames per second of measure 1 (default 30)")
    p.add_argument("--stride", type=int, default=1, help="points_stride (default 1: full organized cloud)")
    p.add_argument("--write-docs", action="store_true", help=f"update '{HEADING}' in docs/benchmarks.md")
    args = p.parse_args(argv)

    from depth_anything_ros.ros.env import isolate_this_process

    isolate_this_process()
    import rclpy

    from depth_anything_ros.inference.preprocess import resize_output
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
    core.on_camera_info(camera_info(K, w, h))
    msg = conv.numpy_to_image(rgb, "rgb8")
    msg.header.frame_id = "camera_optical_frame"
    if not wait_for_sink(node):
        print("bench_node: the sink process did not subscribe within 60 s", file=sys.stderr)
        return 1

    # 3. real forward: overhead = callback - forward, per frame
    real_infer, forward_in_cb = est.engine.infer, []

    def timed_infer(batch):
        t = time.perf_counter()
        out = real_infer(batch)
        forward_in_cb.append((time.perf_counter() - t) * 1e3)
        return out

    est.engine.infer = timed_infer
    _feed(node, msg, 5, 0)
    forward_in_cb.clear()
    callback = _feed(node, msg, args.forward_frames, 0)
    with_forward = [c - f for c, f in zip(callback, forward_in_cb)]
    forward = list(forward_in_cb)

    # 1 and 2. stubbed forward: a real output, no compute
    raw_out = real_infer(est.preprocessor(rgb))
    est.engine.infer = lambda b: raw_out
    _feed(node, msg, args.warmup, args.rate)
    paced = _feed(node, msg, args.frames, args.rate, "paced")
    back_to_back = _feed(node, msg, args.frames, 0, "back_to_back")
    snap = core.stats.snapshot()
    expected = 5 + args.forward_frames + args.warmup + 2 * args.frames
    assert snap["frames_processed"] == expected, (snap, expected)
    assert snap["published depth/colored"] == expected, snap

    # 4. nobody on the preview
    stop_process(sink)
    robot_topics = ("depth/image", "depth/camera_info", "depth/points")
    sink = start_sink(topics=robot_topics)
    if not wait_for_sink(node, robot_topics):
        print("bench_node: the second sink process did not subscribe within 60 s", file=sys.stderr)
        return 1
    _feed(node, msg, args.warmup, args.rate)
    robot = _feed(node, msg, args.frames, args.rate, "robot")
    snap = core.stats.snapshot()
    assert snap["published depth/colored"] == expected and snap["published depth/points"] == expected + args.warmup \
        + args.frames, snap

    # per-stage breakdown on one frame's data (warm), no DDS except the publish row
    pipe = core.pipeline
    Ko = np.asarray(K, np.float64)  # output size = input size: K as given
    depth = pipe.infer(rgb, (h, w))
    valid = pipe.to_depth(depth)
    colored, points = pipe.preview(depth, valid), pipe.cloud(depth, rgb, Ko)
    outs = pipe.fill(pipe.infer(rgb, (h, w)), rgb, msg.header, core.camera)
    jpeg = conv.encode_compressed(rgb, "jpeg", quality=90)
    stages = {
        "decode rgb8 Image": _time(lambda: pipe.decode(msg), 200),
        "preprocess (resize to network, normalise)": _time(lambda: est.preprocessor(rgb), 200),
        "output resize to 640x480 (into the message), V2 rule: align_corners=True":
            _time(lambda: resize_output(raw_out[0], h, w, "v2", out=depth), 200),
        "output resize to 640x480 (into the message), V1 rule (cv2 bilinear; the earlier rule for all)":
            _time(lambda: resize_output(raw_out[0], h, w, "v1", out=depth), 200),
        "NaN masking (min/max depth, in place)": _time(lambda: pipe.to_depth(depth), 200),
        "preview colormap (into the message)": _time(lambda: pipe.preview(depth, valid), 200),
        "point cloud xyz+rgb (cached rays, into the message)": _time(lambda: pipe.cloud(depth, rgb, Ko), 200),
        "message fill (4 messages, no data copies)": _time(lambda: (
            conv.scaled_camera_info(core.camera.msg, Ko, core.camera.P, (h, w), msg.header),
            conv.numpy_to_image(depth, "32FC1", msg.header), conv.numpy_to_image(colored, "bgr8", msg.header),
            conv.pointcloud2_message(points, msg.header, True)), 200),
        "publish (4 topics, 1 subscriber process)": _time(lambda: [core.pubs[k].publish(getattr(outs, k)) for k in (
            "camera_info", "depth", "colored", "points")], 200),
        "(compressed input) JPEG decode, not in total": _time(lambda: conv.compressed_msg_to_rgb(jpeg), 100),
    }
    machine = _machine()
    node.destroy_node()
    rclpy.try_shutdown()
    stop_process(sink)

    med, p99 = _stats(paced)
    rmed, rp99 = _stats(robot)
    bmed, bp99 = _stats(back_to_back)
    wmed, wp99 = _stats(with_forward)
    fmed, fp99 = _stats(forward)
    frac = med / (med + fmed)
    cloud = f"cloud xyzrgb organized, stride {args.stride}"
    print(f"node overhead per frame (640x480 rgb8 in, {cloud}), stubbed forward, {args.frames} frames at "
          f"{args.rate:g} Hz: median {med:.2f} ms, p99 {p99:.2f} ms")
    print(f"same, back to back: median {bmed:.2f} ms, p99 {bp99:.2f} ms")
    print(f"same at {args.rate:g} Hz, nobody on depth/colored (no preview made): median {rmed:.2f} ms, p99 {rp99:.2f} ms")
    print(f"real forward, callback minus forward ({args.forward_frames} frames): median {wmed:.2f} ms, p99 {wp99:.2f} ms")
    print(f"model forward ({model_desc}, network {net[0]}x{net[1]}, {args.threads} thread(s), torch): "
          f"median {fmed:.1f} ms, p99 {fp99:.1f} ms")
    print(f"overhead as a fraction of the frame time (overhead + forward): {100 * frac:.1f} %")
    cpu = {k: _stats(v) for k, v in CPU_MS.items()}
    print("callback CPU time of the calling thread (median / p99 ms): "
          + ", ".join(f"{k} {m:.2f} / {q:.2f}" for k, (m, q) in cpu.items()))
    print("per stage (median / p99 ms):")
    for k, v in stages.items():
        m, q = _stats(v)
        print(f"  {k:52s} {m:6.2f} / {q:6.2f}")
    print(f"machine: {machine}")
    if args.write_docs:
        rows = "\n".join(f"| {k} | {_stats(v)[0]:.2f} | {_stats(v)[1]:.2f} |" for k, v in stages.items())
        update_docs_section(f"""{HEADING}

Command: `.venv/bin/python benchmarks/bench_node.py --write-docs`: the real `DepthAnythingNode` in-process,
frames given to its image callback, a sink process subscribed to every output, all measures in one run.
Machine: {machine}.

| measure (640x480 rgb8 in, {cloud}) | median (ms) | p99 (ms) |
|---|---|---|
| **node overhead per frame**, forward stubbed, {args.frames} frames at {args.rate:g} Hz: decode, preprocess, output resize, masking, preview, cloud, fill, publish | **{med:.2f}** | {p99:.2f} |
| same, {args.frames} frames back to back | {bmed:.2f} | {bp99:.2f} |
| same at {args.rate:g} Hz, subscribers on depth/image, depth/camera_info, depth/points only (a robot; `lazy_outputs` makes no preview) | **{rmed:.2f}** | {rp99:.2f} |
| same work with the real forward: callback minus forward, frame by frame ({args.forward_frames} frames) | {wmed:.2f} | {wp99:.2f} |
| model forward ({model_desc}; {net[0]}x{net[1]}, {args.threads} thread, torch) | {fmed:.1f} | {fp99:.1f} |

CPU time of the calling thread per callback (`time.thread_time`, not counting time spent waiting for a core
that other processes hold): paced {cpu["paced"][0]:.2f} ms (p99 {cpu["paced"][1]:.2f}), back to back
{cpu["back_to_back"][0]:.2f} ms, robot config {cpu["robot"][0]:.2f} ms (p99 {cpu["robot"][1]:.2f}).

Overhead as a fraction of the frame time with the demo model (overhead / (overhead + forward)): **{100 * frac:.1f} %**.
Goal: median <= 3 ms. Breakdown per stage (measured separately on warm data, no DDS except the publish row):

| stage | median (ms) | p99 (ms) |
|---|---|---|
{rows}
""", heading=HEADING)
        print(f"docs/benchmarks.md: '{HEADING}' updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
