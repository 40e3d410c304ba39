"""Lifecycle mode: the node starts unconfigured, publishes nothing until configured and activated, and
stops subscribing when deactivated; transitions are driven from this process over DDS services."""
from __future__ import annotations

import numpy as np

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
