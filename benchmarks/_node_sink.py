"""Sink process for the node benchmarks: subscribes to the given output topics (default: the four outputs)
and counts messages (prints on exit).

    python benchmarks/_node_sink.py [TOPIC ...]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _exit_with_parent() -> None:
    """Linux: die with the benchmark that started this sink, so that a killed benchmark leaves no
    subscriber behind to load the next run."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None).prctl(1, int(signal.SIGTERM))  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main() -> int:
    _exit_with_parent()
    from depth_anything_ros.ros.env import use_large_data_profile

    use_large_data_profile()
    import rclpy
    from sensor_msgs.msg import CameraInfo, Image, PointCloud2

    rclpy.init()
    node = rclpy.create_node("bench_sink")
    counts = {}

    def counter(name):
        counts[name] = 0

        def cb(_msg):
            counts[name] += 1
        return cb

    types = {"depth/image": Image, "depth/camera_info": CameraInfo, "depth/points": PointCloud2,
             "depth/colored": Image}
    for topic in sys.argv[1:] or types:
        node.create_subscription(types[topic], topic, counter(topic), 1)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, Exception):  # noqa: BLE001 - external shutdown ends the sink
        pass
    print("sink received:", counts, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
