"""Parameters set on the running node from another process (rcl_interfaces SetParameters), between good frames:
live ones are applied to the next frame, the ones that need the model/engine/QoS rebuilt are refused with a
reason naming the reconfigure, invalid values are refused with the start-up rule's reason, and use_sim_time
works with and without /clock (diagnostics keep coming)."""
from __future__ import annotations

import numpy as np
import pytest

from depth_anything_ros.ros import conversions as conv

from .conftest import K_160x120
from .harness import camera_info_for, node_with_probe, sample_images

W, H = 160, 120
OUTPUTS = ("depth/image", "depth/camera_info", "depth/points", "depth/colored")
T0 = 1_740_000_000 * 1_000_000_000


@pytest.fixture(scope="module")
def running(ros_context, tiny_metric_checkpoint, tmp_path_factory):
    from rclpy.parameter_client import AsyncParameterClient

    tmp = tmp_path_factory.mktemp("live_params")
    params = {"model_path": str(tiny_metric_checkpoint), "network_size": "70x98", "num_threads": 1,
              "diagnostics_period": 0.3}
    with node_with_probe(ros_context, tmp / "node.log", params, "/live", OUTPUTS) as (node, probe):
        client = AsyncParameterClient(probe.node, "/live/depth_anything")
        assert probe.spin_until(lambda: client.services_are_ready(), 30)
        yield node, probe, client


def _set(probe, client, **values):
    from rclpy.parameter import Parameter

    future = client.set_parameters([Parameter(k, value=v) for k, v in values.items()])
    assert probe.spin_until(future.done, 20)
    return future.result().results


def _get(probe, client, name):
    future = client.get_parameters([name])
    assert probe.spin_until(future.done, 20)
    v = future.result().values[0]
    return {1: v.bool_value, 2: v.integer_value, 3: v.double_value, 4: v.string_value}[v.type]


def test_live_parameters(running):
    node, probe, client = running
    rgb = sample_images(1, W, H)[0]
    info = camera_info_for(K_160x120, W, H)
    stamp = probe.warm_up(lambda: conv.numpy_to_image(rgb, "rgb8"), info, OUTPUTS, T0)

    def frame(topics=OUTPUTS):
        nonlocal stamp
        stamp += 1_000_000_000
        probe.send(conv.numpy_to_image(rgb, "rgb8"), stamp)
        assert probe.wait_outputs(stamp, topics, 20), node.text()[-2000:]
        return {t: probe.received[t].get(stamp) for t in OUTPUTS}

    first = frame()
    assert (first["depth/points"].width, first["depth/points"].height) == (W, H)
    depth0 = conv.image_to_numpy(first["depth/image"])
    limit = float(np.nanmedian(depth0))

    # applied on the next frame
    (r,) = _set(probe, client, points_stride=4)
    assert r.successful, r.reason
    out = frame()
    assert (out["depth/points"].width, out["depth/points"].height) == (W // 4, H // 4)
    (r,) = _set(probe, client, max_depth=limit)
    assert r.successful, r.reason
    depth = conv.image_to_numpy(frame()["depth/image"])
    assert np.nanmax(depth) <= limit and np.isnan(depth).mean() > 0.3
    np.testing.assert_array_equal(depth[np.isfinite(depth)], depth0[np.isfinite(depth)])
    (r,) = _set(probe, client, publish_colored=False)
    assert r.successful, r.reason
    assert probe.spin_until(lambda: probe.node.count_publishers("depth/colored") == 0, 10)
    out = frame(("depth/image", "depth/points"))
    assert out["depth/colored"] is None

    # refused: needs a reconfigure; invalid values: the start-up rule's reason; nothing changes
    for name, value in (("engine", "onnxruntime"), ("network_size", "140x196"), ("input_qos.depth", 5),
                        ("output_qos.reliability", "best_effort")):
        (r,) = _set(probe, client, **{name: value})
        assert not r.successful and name in r.reason and "reconfigure" in r.reason, r.reason
    (r,) = _set(probe, client, points_stride=-5)
    assert not r.successful and "points_stride: must be in 1..64" in r.reason
    (r,) = _set(probe, client, min_depth=30.0)
    assert not r.successful and "must be greater than min_depth" in r.reason, r.reason
    (r,) = _set(probe, client, colored_min="near")
    assert not r.successful and "expected a number" in r.reason
    assert _get(probe, client, "points_stride") == 4 and _get(probe, client, "engine") == "auto"
    out = frame(("depth/image", "depth/points"))
    assert out["depth/points"].width == W // 4

    # use_sim_time without /clock: diagnostics keep coming (stamped 0), frames keep flowing
    (r,) = _set(probe, client, use_sim_time=True)
    assert r.successful, r.reason
    n = len(probe.diagnostics)
    probe.spin_for(1.5)
    assert len(probe.diagnostics) - n >= 3
    frame(("depth/image", "depth/points"))
    # ... and with /clock: they follow it
    from rclpy.qos import QoSProfile
    from rosgraph_msgs.msg import Clock

    clock_pub = probe.node.create_publisher(Clock, "/clock", QoSProfile(depth=1))
    for _ in range(40):
        clock_pub.publish(Clock(clock=probe.stamp(12_345 * 1_000_000_000)))
        probe.spin_for(0.1)
        if probe.diagnostics and probe.diagnostics[-1].header.stamp.sec == 12_345:
            break
    assert probe.diagnostics[-1].header.stamp.sec == 12_345
    frame(("depth/image", "depth/points"))
    assert node.alive()
    assert "Traceback" not in node.text()
