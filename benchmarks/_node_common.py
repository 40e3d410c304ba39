"""Shared set-up of the node benchmarks: isolated ROS env, a model, the in-process node, a sink process."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
DEMO_MODEL = ROOT / "models" / "demo_vitt_metric.safetensors"
DEMO_NETWORK = (266, 350)  # training/configs/demo_vitt.yaml input_size
OUTPUTS = ("depth/image", "depth/camera_info", "depth/points", "depth/colored")


def model_for_timing(path: str | None) -> tuple[Path, str]:
    """(checkpoint, description): the given one, the demo model, or a random-weight vitt metric model
    (timing does not depend on the weights)."""
    if path:
        return Path(path), f"{path}"
    if DEMO_MODEL.is_file():
        return DEMO_MODEL, "demo model (trained)"
    import torch

    from depth_anything_ros.model import build_model
    from depth_anything_ros.model.checkpoint import ModelMeta, save_checkpoint

    torch.manual_seed(0)
    model = build_model("vitt", "v2", "metric", max_depth=20.0)
    out = Path(tempfile.mkdtemp(prefix="bench_node_")) / "vitt_random_metric.safetensors"
    save_checkpoint(model, out, ModelMeta("vitt", "v2", "metric", 20.0, input_size=DEMO_NETWORK))
    return out, "vitt metric, random weights (demo model absent; timing does not depend on weights)"


def demo_frame(width: int = 640, height: int = 480) -> tuple[np.ndarray, np.ndarray]:
    """(RGB frame, K) from the bundled demo sequence (resized if needed)."""
    import cv2

    from depth_anything_ros.demo.camera_yaml import read_camera_yaml
    from depth_anything_ros.geometry import scale_intrinsics

    frames = ROOT / "demo" / "frames"
    rgb = cv2.cvtColor(cv2.imread(str(sorted(frames.glob("*.jpg"))[0])), cv2.COLOR_BGR2RGB)
    cal = read_camera_yaml(frames / "camera_info.yaml")
    K = cal["K"]
    if rgb.shape[:2] != (height, width):
        K = scale_intrinsics(K, rgb.shape[:2], (height, width))
        rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
    return rgb, K


def start_sink(extra_env: dict | None = None, topics=OUTPUTS) -> subprocess.Popen:
    """A subscriber process on `topics` (so that publish() really serialises and delivers)."""
    from depth_anything_ros.ros.env import child_env

    env = child_env()
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(extra_env or {})
    return subprocess.Popen([sys.executable, str(Path(__file__).with_name("_node_sink.py")), *topics], env=env)


def make_node(model: Path, **params):
    """The real DepthAnythingNode in this process, with parameters given as overrides."""
    from rclpy.parameter import Parameter

    from depth_anything_ros.ros.node import DepthAnythingNode

    overrides = [Parameter("model_path", value=str(model))] + [Parameter(k, value=v) for k, v in params.items()]
    return DepthAnythingNode("depth_anything", parameter_overrides=overrides)


def wait_for_sink(node, topics=OUTPUTS, timeout: float = 60.0) -> bool:
    """Until exactly `topics` (of OUTPUTS) have a subscriber, as the node's publishers see it."""
    end = time.monotonic() + timeout
    keys = {"depth/image": "depth", "depth/camera_info": "camera_info", "depth/points": "points",
            "depth/colored": "colored"}
    pubs = {t: node.core.pubs[keys[t]] for t in OUTPUTS if keys[t] in node.core.pubs}
    while time.monotonic() < end:
        if all((p.get_subscription_count() > 0) == (t in topics) for t, p in pubs.items()):
            return True
        time.sleep(0.05)
    return False


def camera_info(K: np.ndarray, width: int, height: int):
    from depth_anything_ros.demo.camera_yaml import camera_info_msg

    P = np.zeros((3, 4))
    P[:, :3] = K
    return camera_info_msg({"width": width, "height": height, "K": K, "P": P, "R": np.eye(3), "D": [0.0] * 5,
                            "distortion_model": "plumb_bob"}, "camera_optical_frame")


def update_docs_section(text: str, heading: str = "## Node", path: Path = ROOT / "docs" / "benchmarks.md") -> None:
    """Replace (or append) the `heading` section of docs/benchmarks.md up to the next heading of the same
    or a higher level (a `###` section leaves its sibling `###` sections alone)."""
    doc = path.read_text() if path.is_file() else "# Benchmarks\n"
    lines = doc.splitlines()
    level = len(heading) - len(heading.lstrip("#"))
    start = next((i for i, ln in enumerate(lines) if ln.strip() == heading), None)
    block = text.rstrip("\n").splitlines()
    if start is None:
        new = lines + [""] + block
    else:
        def ends(ln: str) -> bool:
            depth = len(ln) - len(ln.lstrip("#"))
            return 0 < depth <= level and ln[depth:depth + 1] == " "
        end = next((j for j in range(start + 1, len(lines)) if ends(lines[j])), len(lines))
        new = lines[:start] + block + [""] + lines[end:]
    path.write_text("\n".join(new).rstrip("\n") + "\n")


def rss_mb(pid: int | None = None) -> float:
    """Resident set size in MiB (from /proc; psutil not needed)."""
    with open(f"/proc/{pid or os.getpid()}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGINT (rclpy shuts down cleanly), then SIGKILL if it does not exit in time."""
    import signal

    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
