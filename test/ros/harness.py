"""Cross-process test helpers: the node as a subprocess, and a probe node (publisher + subscribers) in the test.

Both sides use `depth_anything_ros.ros.env`: loopback-only discovery, a random ROS_DOMAIN_ID and a
temp ROS_LOG_DIR (the probe's context is created after `isolate_this_process`, children inherit it).
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUTPUT_TOPICS = ("depth/image", "depth/camera_info", "depth/points", "depth/colored", "depth/image_mm",
                 "depth/relative")


def child_env() -> dict:
    from depth_anything_ros.ros.env import child_env as _child_env

    env = _child_env()
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["OMP_NUM_THREADS"] = "1"  # 2 shared cores: keep torch in the node from oversubscribing
    return env


class NodeProcess:
    """`python -m depth_anything_ros.ros.main` with parameters; stdout+stderr captured to a file."""

    def __init__(self, log: Path, params: dict, namespace: str = "", extra_args=(), use_yaml: bool = True):
        cmd = [sys.executable, "-m", "depth_anything_ros.ros.main", *extra_args, "--ros-args"]
        if use_yaml:
            cmd += ["--params-file", str(ROOT / "config" / "depth_anything.yaml")]
        for k, v in params.items():
            v = str(v).lower() if isinstance(v, bool) else v
            cmd += ["-p", f"{k}:={v}"]
        if namespace:
            cmd += ["-r", f"__ns:={namespace}"]
        self.log = Path(log)
        self._fh = open(self.log, "w")
        self._interrupted = False
        self.proc = subprocess.Popen(cmd, env=child_env(), stdout=self._fh, stderr=subprocess.STDOUT, cwd=ROOT)

    def text(self) -> str:
        if not self._fh.closed:
            self._fh.flush()
        return self.log.read_text()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def interrupt(self) -> None:
        """Ask the node to shut down (one SIGINT) without waiting; `stop` waits.

        Only one SIGINT is ever sent: rclpy restores the default handler while it shuts down, so a
        second one would kill the process (exit -2) instead of letting it finish cleanly."""
        if self.proc.poll() is None and not self._interrupted:
            self._interrupted = True
            self.proc.send_signal(signal.SIGINT)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGINT, then wait; generous timeout: the node lets an in-flight frame finish (up to 10 s)
        and the 2 CI cores may be busy with the other node of the same test."""
        if self.proc.poll() is None:
            self.interrupt()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._fh.close()
        return self.proc.returncode


class Probe:
    """A node in the test process: publishes camera input, records every output by header stamp."""

    def __init__(self, context, name: str, namespace: str = "", compressed: bool = False, extra_subs=(),
                 outputs=OUTPUT_TOPICS):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2

        self.node = rclpy.create_node(name, namespace=namespace or None, context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        cam_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE)
        self.image_pub = self.node.create_publisher(CompressedImage if compressed else Image,
                                                    "image/compressed" if compressed else "image", cam_qos)
        self.info_pub = self.node.create_publisher(CameraInfo, "camera_info", cam_qos)
        self.received: dict[str, dict[int, object]] = {t: {} for t in OUTPUT_TOPICS}
        self.diagnostics: list = []
        types = {"depth/camera_info": CameraInfo, "depth/points": PointCloud2}
        self.output_subs = {topic: self.node.create_subscription(types.get(topic, Image), topic, self._store(topic), 20)
                            for topic in outputs}
        for topic, typ in extra_subs:
            self.received[topic] = {}
            self.node.create_subscription(typ, topic, self._store(topic),
                                          QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=20,
                                                     reliability=ReliabilityPolicy.BEST_EFFORT))
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self.diagnostics.append, 20)

    def _store(self, topic):
        def cb(msg):
            st = msg.header.stamp
            self.received[topic][st.sec * 1_000_000_000 + st.nanosec] = msg
        return cb

    def spin_until(self, cond, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if cond():
                return True
            self.executor.spin_once(timeout_sec=0.02)
        return bool(cond())

    def spin_for(self, seconds: float) -> None:
        self.spin_until(lambda: False, seconds)

    def wait_connected(self, outputs=("depth/image",), timeout: float = 60.0) -> bool:
        """Until the node subscribes to our image topic and publishes `outputs`."""
        return self.spin_until(lambda: self.image_pub.get_subscription_count() > 0
                               and all(self.node.count_publishers(t) > 0 for t in outputs), timeout)

    def stamp(self, ns: int):
        from builtin_interfaces.msg import Time

        return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)

    def send(self, msg, stamp_ns: int, info=None, frame_id: str = "cam_optical") -> None:
        """Publish CameraInfo (if given) and then the image, both stamped `stamp_ns`."""
        if info is not None:
            info.header.stamp = self.stamp(stamp_ns)
            info.header.frame_id = frame_id
            self.info_pub.publish(info)
            self.spin_for(0.05)  # separate topics: let the node cache the info before the frame
        if msg is not None:
            msg.header.stamp = self.stamp(stamp_ns)
            msg.header.frame_id = frame_id
            self.image_pub.publish(msg)

    def wait_outputs(self, stamp_ns: int, topics, timeout: float = 20.0) -> bool:
        return self.spin_until(lambda: all(stamp_ns in self.received[t] for t in topics), timeout)

    def warm_up(self, make_msg, info, topics, first_stamp_ns: int, timeout: float = 45.0) -> int:
        """Send a good frame every 2 s until its outputs arrive (discovery can lag a few seconds on one
        side); returns the next free stamp."""
        end = time.monotonic() + timeout
        stamp = first_stamp_ns
        while time.monotonic() < end:
            self.send(make_msg(), stamp, info)
            if self.wait_outputs(stamp, topics, timeout=2.0):
                return stamp + 1_000_000_000
            stamp += 1_000_000_000
        raise AssertionError(f"no outputs on {topics} within {timeout:g} s")

    def latest_diagnostics(self, node: str = "") -> dict:
        """Values of the newest depth-node status (of the node whose fully qualified name is `node`, if given)."""
        for arr in reversed(self.diagnostics):
            for st in arr.status:
                if st.name.endswith(": depth") and (not node or st.hardware_id == node):
                    return {kv.key: kv.value for kv in st.values}
        return {}

    def close(self) -> None:
        self.executor.remove_node(self.node)
        self.node.destroy_node()


@contextlib.contextmanager
def node_with_probe(context, log: Path, params: dict, namespace: str, outputs, compressed: bool = False):
    """A node process in `namespace` and a Probe on `outputs`, connected; the node must exit 0 at the end."""
    node = NodeProcess(log, params, namespace=namespace)
    probe = Probe(context, f"{namespace.strip('/')}_probe", namespace, compressed=compressed, outputs=outputs)
    try:
        assert probe.wait_connected(outputs, 60), node.text()[-2000:]
        yield node, probe
    finally:
        probe.close()
        assert node.stop() == 0, node.text()[-2000:]


def camera_info_for(K: np.ndarray, width: int, height: int):
    from depth_anything_ros.demo.camera_yaml import camera_info_msg

    P = np.zeros((3, 4))
    P[:, :3] = K
    return camera_info_msg({"width": width, "height": height, "K": np.asarray(K, float), "P": P, "R": np.eye(3),
                            "D": [0.0] * 5, "distortion_model": "plumb_bob"}, "cam_optical")


def sample_images(n: int, width: int = 160, height: int = 120) -> list[np.ndarray]:
    """`n` RGB frames: the bundled demo frames resized when present, else smooth synthetic patterns."""
    import cv2

    frames = sorted((ROOT / "demo" / "frames").glob("*.jpg"))
    out = []
    for i in range(n):
        if frames:
            bgr = cv2.imread(str(frames[(i * 7) % len(frames)]))
            out.append(cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (width, height), interpolation=cv2.INTER_AREA))
        else:
            yy, xx = np.mgrid[0:height, 0:width]
            out.append(np.stack([(xx * 255 // width + 40 * i) % 256, yy * 255 // height,
                                 ((xx + yy) * 2) % 256], -1).astype(np.uint8))
    return out
