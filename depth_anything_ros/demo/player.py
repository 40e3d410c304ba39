"""Camera player: publishes a folder of frames (JPEG/PNG + camera_info.yaml) with CameraInfo at a fixed rate.

    python -m depth_anything_ros.demo.player --frames demo/frames --rate 5 [--compressed] [--loops 1]

Topics: `image` (sensor_msgs/Image, --encoding, default rgb8) or `image/compressed` (the files' own
bytes), and `camera_info`, both with the same header (stamp = publish time, frame_id = --frame-id).
Every frame is decoded before the first publish so that the rate is steady. Waits (up to --wait s)
for a subscriber on the image topic before starting, then exits after the last frame.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..depth_io import read_rgb

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def list_frames(folder: Path) -> list[Path]:
    """Image files of a frame folder, in name order."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m depth_anything_ros.demo.player", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=Path, required=True, help="folder with images and camera_info.yaml")
    p.add_argument("--rate", type=float, default=5.0, help="frames per second (default 5)")
    p.add_argument("--loops", type=int, default=1, help="times to play the sequence (default 1)")
    p.add_argument("--count", type=int, default=0, help="stop after this many frames (0 = all loops)")
    p.add_argument("--compressed", action="store_true", help="publish image/compressed instead of image")
    p.add_argument("--encoding", default="rgb8", choices=("rgb8", "bgr8", "rgba8", "bgra8", "mono8"))
    p.add_argument("--frame-id", default="camera_optical_frame")
    p.add_argument("--reliable", action="store_true", help="reliable QoS (default best effort, depth 1)")
    p.add_argument("--wait", type=float, default=30.0, help="seconds to wait for a subscriber (default 30)")
    p.add_argument("--subscribers", type=int, default=1, help="wait for this many subscriptions on the image topic")
    p.add_argument("--wait-topic", default="", help="also wait until this topic has a publisher (e.g. depth/image)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ..ros.env import use_large_data_profile

    use_large_data_profile()  # large frames between processes need the publisher-side profile
    import cv2
    import rclpy
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, CompressedImage, Image

    from ..ros import conversions as conv
    from .camera_yaml import camera_info_msg, read_camera_yaml

    files = list_frames(args.frames)
    cal_path = args.frames / "camera_info.yaml"
    if not files or not cal_path.is_file():
        print(f"player: error: {args.frames} needs images and camera_info.yaml", file=sys.stderr)
        return 2
    cal = read_camera_yaml(cal_path)
    frames = []
    for f in files:
        if args.compressed:
            msg = CompressedImage()
            msg.format = "rgb8; jpeg compressed bgr8" if f.suffix.lower() != ".png" else "rgb8; png compressed bgr8"
            msg.data = f.read_bytes()
        else:
            rgb = read_rgb(f)
            enc = args.encoding
            arr = {"rgb8": rgb, "bgr8": rgb[..., ::-1], "mono8": cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY),
                   "rgba8": cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA), "bgra8": cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA)}[enc]
            msg = conv.numpy_to_image(arr, enc)
        msg.header.frame_id = args.frame_id
        frames.append(msg)

    rclpy.init(args=None)
    node = rclpy.create_node("demo_camera_player")
    qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                     reliability=ReliabilityPolicy.RELIABLE if args.reliable else ReliabilityPolicy.BEST_EFFORT)
    topic = "image/compressed" if args.compressed else "image"
    img_pub = node.create_publisher(CompressedImage if args.compressed else Image, topic, qos)
    info_pub = node.create_publisher(CameraInfo, "camera_info", qos)
    info = camera_info_msg(cal, args.frame_id)
    t_start = time.monotonic()
    try:
        deadline = time.monotonic() + args.wait
        while time.monotonic() < deadline and (
                img_pub.get_subscription_count() < args.subscribers
                or (args.wait_topic and node.count_publishers(args.wait_topic) == 0)):
            rclpy.spin_once(node, timeout_sec=0.05)
        if img_pub.get_subscription_count() < args.subscribers:
            print(f"player: {img_pub.get_subscription_count()} of {args.subscribers} subscribers on "
                  f"{node.resolve_topic_name(topic)} after {args.wait:g} s", file=sys.stderr)
            return 1
        info.header.stamp = node.get_clock().now().to_msg()
        info_pub.publish(info)  # a first CameraInfo ahead of the first frame: its outputs need it
        time.sleep(0.3)  # let the reverse discovery (node -> recorder) settle too
        total = args.count or len(frames) * max(args.loops, 1)
        period = 1.0 / args.rate
        t_next = time.monotonic()
        for i in range(total):
            msg = frames[i % len(frames)]
            stamp = node.get_clock().now().to_msg()
            msg.header.stamp = stamp
            info.header.stamp = stamp
            info_pub.publish(info)
            img_pub.publish(msg)
            t_next += period
            time.sleep(max(0.0, t_next - time.monotonic()))
        print(f"player: {img_pub.get_subscription_count()} subscribers after {time.monotonic() - t_start:.2f} s")
        print(f"player: published {total} frames on {node.resolve_topic_name(topic)} at {args.rate:g} Hz")
        time.sleep(0.2)
        return 0
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
