"""Soak: >= 2,000 frames through the depth node process over DDS, with the node's RSS sampled.

    .venv/bin/python benchmarks/soak_node.py [--frames 2000] [--network-size 70x98] [--write-docs]

The node runs as its own process (`python -m depth_anything_ros.ros.main`, loopback-only random
domain) on a random-weight vitt metric model (memory behaviour does not depend on the weights; a small
network size keeps the run short). This process publishes the bundled 640x480 frames with CameraInfo at
--rate and subscribes to every output; the node's VmRSS is read from /proc every second. Growth is
reported after a warm-up (the first 10 % of frames), as total MiB and as a least-squares slope.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np
from _node_common import ROOT, camera_info, demo_frame, model_for_timing, rss_mb, stop_process, update_docs_section


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=2000, help="frames the node must process (default 2000)")
    p.add_argument("--rate", type=float, default=30.0)
    p.add_argument("--network-size", default="70x98")
    p.add_argument("--write-docs", action="store_true", help="append the soak result to docs/benchmarks.md '## Node'")
    args = p.parse_args(argv)

    from depth_anything_ros.ros.env import child_env, isolate_this_process

    isolate_this_process()
    import cv2
    import rclpy
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image, PointCloud2

    from depth_anything_ros.ros import conversions as conv

    model, desc = model_for_timing(None)
    env = child_env()
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    log = open(os.path.join(os.environ["ROS_LOG_DIR"], "soak_node.log"), "w")
    node_proc = subprocess.Popen([sys.executable, "-m", "depth_anything_ros.ros.main", "--ros-args",
                                  "--params-file", str(ROOT / "config" / "depth_anything.yaml"),
                                  "-p", f"model_path:={model}", "-p", f"network_size:={args.network_size}",
                                  "-p", "num_threads:=1"], env=env, stdout=log, stderr=subprocess.STDOUT)
    rclpy.init()
    node = rclpy.create_node("soak_driver")
    qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
    img_pub = node.create_publisher(Image, "image", qos)
    info_pub = node.create_publisher(CameraInfo, "camera_info", qos)
    counts = {"depth/image": 0, "depth/points": 0}
    node.create_subscription(Image, "depth/image", lambda m: counts.__setitem__("depth/image", counts["depth/image"] + 1), 1)
    node.create_subscription(PointCloud2, "depth/points",
                             lambda m: counts.__setitem__("depth/points", counts["depth/points"] + 1), 1)
    frames = sorted((ROOT / "demo" / "frames").glob("*.jpg"))
    _, K = demo_frame()
    msgs = [conv.numpy_to_image(cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB), "rgb8") for f in frames]
    info = camera_info(K, 640, 480)
    samples = []  # (seconds, frames processed (received depth), rss MiB)
    try:
        end = time.monotonic() + 120
        while img_pub.get_subscription_count() == 0 or node.count_publishers("depth/points") == 0:
            rclpy.spin_once(node, timeout_sec=0.05)
            if time.monotonic() > end or node_proc.poll() is not None:
                print("soak: the node did not come up", file=sys.stderr)
                return 1
        t0 = time.monotonic()
        t_next, t_sample, i = t0, t0, 0
        period = 1.0 / args.rate
        while counts["depth/image"] < args.frames:
            now = time.monotonic()
            if now >= t_next:
                stamp = node.get_clock().now().to_msg()
                m = msgs[i % len(msgs)]
                m.header.stamp = info.header.stamp = stamp
                m.header.frame_id = info.header.frame_id = "camera_optical_frame"
                info_pub.publish(info)
                img_pub.publish(m)
                i += 1
                t_next += period
            if now >= t_sample:
                samples.append((now - t0, counts["depth/image"], rss_mb(node_proc.pid)))
                t_sample += 1.0
            rclpy.spin_once(node, timeout_sec=max(0.0, min(t_next, t_sample) - time.monotonic()))
            if node_proc.poll() is not None:
                print("soak: the node exited", file=sys.stderr)
                return 1
        samples.append((time.monotonic() - t0, counts["depth/image"], rss_mb(node_proc.pid)))
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        stop_process(node_proc)
    s = np.array(samples)
    warm = s[s[:, 1] >= 0.1 * args.frames]
    growth = warm[-1, 2] - warm[0, 2]
    slope = np.polyfit(warm[:, 1], warm[:, 2], 1)[0] * 1000.0 if len(warm) > 2 else float("nan")
    dur = s[-1, 0]
    lines = [
        f"soak: {int(s[-1, 1])} frames processed in {dur:.0f} s ({int(s[-1, 1]) / dur:.1f} fps; {i} published, "
        f"{counts['depth/points']} clouds received), 640x480 rgb8 in, network {args.network_size}, cloud xyzrgb",
        f"node RSS: start {s[0, 2]:.1f} MiB, after warm-up ({int(warm[0, 1])} frames) {warm[0, 2]:.1f} MiB, "
        f"end {s[-1, 2]:.1f} MiB, max {s[:, 2].max():.1f} MiB",
        f"growth after warm-up: {growth:+.1f} MiB over {int(warm[-1, 1] - warm[0, 1])} frames "
        f"(least-squares slope {slope:+.2f} MiB per 1000 frames)",
    ]
    marks = []
    for q in (0.25, 0.5, 0.75, 1.0):
        row = s[np.searchsorted(s[:, 1], q * args.frames, side="left").clip(0, len(s) - 1)]
        marks.append(f"{int(row[1])}: {row[2]:.1f}")
    lines.append("RSS (MiB) at frames " + ", ".join(marks))
    print("\n".join(lines))
    if args.write_docs:
        block = (f"### Soak\n\nCommand: `.venv/bin/python benchmarks/soak_node.py --write-docs` (node process, "
                 f"random-weight vitt metric model at {args.network_size}; {args.rate:g} Hz publisher; RSS from /proc "
                 f"every second).\n\n" + "\n".join(f"- {ln}" for ln in lines) + "\n")
        update_docs_section(block, heading="### Soak")
        print("docs/benchmarks.md: '### Soak' updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
