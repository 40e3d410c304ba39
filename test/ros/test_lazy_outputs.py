"""lazy_outputs (the default): the node makes only the outputs that have subscribers, skips inference when
no output has any, and serves a subscriber that joins later from then on (checked over DDS, via /diagnostics)."""
from __future__ import annotations

from depth_anything_ros.ros import conversions as conv

from .conftest import K_160x120
from .harness import NodeProcess, Probe, camera_info_for, sample_images

T0 = 1_700_000_000 * 1_000_000_000


def _status(probe) -> tuple[str, dict]:
    """(message, values) of the newest depth-node status."""
    for arr in reversed(probe.diagnostics):
        for st in arr.status:
            if st.name.endswith(": depth"):
                return st.message, {kv.key: kv.value for kv in st.values}
    return "", {}


def test_only_subscribed_outputs_are_made(ros_context, tiny_metric_checkpoint, tmp_path):
    from sensor_msgs.msg import PointCloud2

    node = NodeProcess(tmp_path / "lazy.log", {"model_path": str(tiny_metric_checkpoint), "network_size": "70x98",
                                               "num_threads": 1, "diagnostics_period": 0.2}, namespace="/lazy")
    probe = Probe(ros_context, "lazy_probe", "/lazy", outputs=("depth/image",))
    rgb = sample_images(1)[0]
    info = camera_info_for(K_160x120, 160, 120)

    def frame():
        return conv.numpy_to_image(rgb, "rgb8")

    try:
        assert probe.wait_connected(("depth/image",), 60), node.text()[-2000:]
        stamp = probe.warm_up(frame, info, ("depth/image",), T0)
        assert probe.spin_until(lambda: int(_status(probe)[1].get("published depth/image", 0)) >= 1, 10)
        values = _status(probe)[1]
        for topic in ("depth/camera_info", "depth/points", "depth/colored"):
            assert f"published {topic}" not in values, values  # nobody listened: never made

        # no subscriber on any output: frames arrive but are not processed
        probe.node.destroy_subscription(probe.output_subs.pop("depth/image"))
        for _ in range(40):
            probe.send(frame(), stamp)
            stamp += 1_000_000_000
            probe.spin_for(0.25)
            if int(_status(probe)[1].get("frames_without_subscribers", 0)) >= 3:
                break
        values = _status(probe)[1]
        assert int(values.get("frames_without_subscribers", 0)) >= 3, (values, node.text()[-2000:])
        processed = int(values["frames_processed"])
        for _ in range(3):
            probe.send(frame(), stamp)
            stamp += 1_000_000_000
            probe.spin_for(0.3)
        probe.spin_for(0.5)
        values = _status(probe)[1]
        assert int(values["frames_processed"]) == processed
        assert any(st.message == "idle: no subscriber on any output" for arr in probe.diagnostics for st in arr.status)

        # a subscriber that joins gets its output, and only that one is made
        probe.output_subs["depth/points"] = probe.node.create_subscription(
            PointCloud2, "depth/points", probe._store("depth/points"), 20)
        probe.warm_up(frame, info, ("depth/points",), stamp)
        assert probe.spin_until(lambda: int(_status(probe)[1].get("published depth/points", 0)) >= 1, 10)
        values = _status(probe)[1]
        assert "published depth/colored" not in values and node.alive()
    finally:
        probe.close()
        assert node.stop() == 0, node.text()[-2000:]
