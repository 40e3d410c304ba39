"""Lifecycle mode: the node starts unconfigured, publishes nothing until configured and activated, and
stops subscribing when deactivated; transitions are driven from this process over DDS services."""
from __future__ import annotations

import numpy as np
import pytest

from depth_anything_ros.ros import conversions as conv

from .conftest import K_160x120
from .harness import NodeProcess, Probe, camera_info_for, sample_images

OUTPUTS = ("depth/image", "depth/camera_info", "depth/points", "depth/colored")
T0 = 1_600_000_000 * 1_000_000_000


def _call(probe, client, request, timeout=30.0):
    assert probe.spin_until(lambda: client.service_is_ready(), timeout), f"{client.srv_name} not available"
    future = client.call_async(request)
    assert probe.spin_until(future.done, timeout)
    return future.result()


def test_lifecycle_transitions(ros_context, tiny_metric_checkpoint, tmp_path):
    from lifecycle_msgs.msg import State, Transition
    from lifecycle_msgs.srv import ChangeState, GetState

    node = NodeProcess(tmp_path / "lc.log", {"model_path": str(tiny_metric_checkpoint), "network_size": "70x98",
                                             "num_threads": 1, "points_stride": 4}, namespace="/lc",
                       extra_args=["--lifecycle"])
    probe = Probe(ros_context, "lc_probe", "/lc")
    try:
        change = probe.node.create_client(ChangeState, "depth_anything/change_state")
        get = probe.node.create_client(GetState, "depth_anything/get_state")
        assert _call(probe, get, GetState.Request()).current_state.id == State.PRIMARY_STATE_UNCONFIGURED
        assert probe.node.count_publishers("depth/image") == 0
        assert _call(probe, change, ChangeState.Request(transition=Transition(id=Transition.TRANSITION_CONFIGURE)),
                     60).success
        assert _call(probe, change, ChangeState.Request(transition=Transition(id=Transition.TRANSITION_ACTIVATE))).success
        assert _call(probe, get, GetState.Request()).current_state.id == State.PRIMARY_STATE_ACTIVE
        assert probe.wait_connected(OUTPUTS, 30), node.text()[-2000:]
        rgb = sample_images(1)[0]
        info = camera_info_for(K_160x120, 160, 120)
        stamp = probe.warm_up(lambda: conv.numpy_to_image(rgb, "rgb8"), info, OUTPUTS, T0)
        assert _call(probe, change,
                     ChangeState.Request(transition=Transition(id=Transition.TRANSITION_DEACTIVATE))).success
        assert probe.spin_until(lambda: probe.image_pub.get_subscription_count() == 0, 10)
        probe.send(conv.numpy_to_image(rgb, "rgb8"), stamp, info)
        probe.spin_for(1.0)
        assert stamp not in probe.received["depth/image"]  # inactive: no processing
        assert node.alive()
        assert np.isfinite(conv.image_to_numpy(next(iter(probe.received["depth/image"].values())))).any()
    finally:
        probe.close()
        assert node.stop() == 0, node.text()[-2000:]


def _transition(probe, change, tid):
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState

    return _call(probe, change, ChangeState.Request(transition=Transition(id=tid)), 60).success


FAILURE_WORDS = ("Traceback", "frame failed", "Error", "exception", "never retrieved")


@pytest.mark.slow
def test_fifty_lifecycle_cycles_with_frames_flowing(ros_context, tiny_metric_checkpoint, tmp_path):
    """configure, activate, deactivate, cleanup 50 times while a camera streams at 30 Hz: every transition
    succeeds, every activation publishes, nothing in the node's log says a frame failed; then SIGINT mid-stream.
    Frames are 640x480 at a 140x182 network so that one is nearly always in flight when a transition comes."""
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState

    node = NodeProcess(tmp_path / "cycles.log", {"model_path": str(tiny_metric_checkpoint), "network_size": "140x182",
                                                 "num_threads": 1, "points_stride": 4, "publish_colored": False,
                                                 "diagnostics_period": 0.1}, namespace="/cycles",
                       extra_args=["--lifecycle"])
    probe = Probe(ros_context, "cycles_probe", "/cycles", outputs=("depth/image", "depth/points"))
    rgb = sample_images(1, 640, 480)[0]
    info = camera_info_for(K_160x120 * [[4], [4], [1]], 640, 480)
    stamp = [T0]

    def tick():
        stamp[0] += 33_000_000
        info.header.stamp = probe.stamp(stamp[0])
        probe.info_pub.publish(info)
        img = conv.numpy_to_image(rgb, "rgb8")
        img.header.stamp = info.header.stamp
        probe.image_pub.publish(img)

    probe.node.create_timer(1 / 30, tick)
    try:
        change = probe.node.create_client(ChangeState, "depth_anything/change_state")
        for cycle in range(50):
            assert _transition(probe, change, Transition.TRANSITION_CONFIGURE), (cycle, node.text()[-2000:])
            assert _transition(probe, change, Transition.TRANSITION_ACTIVATE), cycle
            n = len(probe.received["depth/points"])
            assert probe.spin_until(lambda: len(probe.received["depth/points"]) > n, 20), (cycle, node.text()[-2000:])
            assert _transition(probe, change, Transition.TRANSITION_DEACTIVATE), cycle
            assert _transition(probe, change, Transition.TRANSITION_CLEANUP), cycle
        assert _transition(probe, change, Transition.TRANSITION_CONFIGURE)
        assert _transition(probe, change, Transition.TRANSITION_ACTIVATE)
        n = len(probe.received["depth/image"])
        assert probe.spin_until(lambda: len(probe.received["depth/image"]) > n + 3, 20)
        node.interrupt()  # SIGINT while frames flow
        probe.spin_until(lambda: not node.alive(), 30)
    finally:
        probe.close()
        code = node.stop()
    log = node.text()
    assert code == 0, log[-3000:]
    assert not [w for w in FAILURE_WORDS if w in log], log[-3000:]


def test_sigint_during_start_up(tiny_metric_checkpoint, tmp_path):
    """SIGINT while the node imports, loads the model or warms up: exit code 0 and a log without a traceback."""
    import time

    nodes = [NodeProcess(tmp_path / f"start_{i}.log", {"model_path": str(tiny_metric_checkpoint),
                                                       "network_size": "70x98", "num_threads": 1},
                         namespace=f"/start{i}") for i in range(3)]
    # Our code starts once the ROS wheels bootstrap has re-executed the interpreter and rclpy's libraries are
    # being mapped (a SIGINT before that is Python's own business); the delays count from there, so that
    # they land in the imports, the model loading and the warm-up on a fast or a slow machine alike.
    def in_our_code(pid):
        try:
            return "librcl" in open(f"/proc/{pid}/maps").read()
        except OSError:
            return False

    for node, delay in zip(nodes, (0.0, 0.8, 1.6)):
        deadline = time.monotonic() + 60
        while not in_our_code(node.proc.pid) and time.monotonic() < deadline and node.proc.poll() is None:
            time.sleep(0.01)
        time.sleep(delay)
        node.interrupt()
    for node in nodes:
        code = node.stop()
        log = node.text()
        assert code == 0 and not [w for w in FAILURE_WORDS if w in log], log[-3000:]
