"""A second DDS vendor reads the node: Eclipse Cyclone DDS (Python binding, its own IDL, stock settings, 127.0.0.1
only) in its own process receives every output topic over loopback UDP, reliable, >= 95 % of the frames, with
content identical to what an rclpy (Fast DDS) subscriber gets.

The node runs as users run it (the shipped Fast DDS profile and parameter file); the camera is this process.
"""
from __future__ import annotations

import time

import numpy as np
import pytest

from depth_anything_ros.ros import conversions as conv

from .conftest import K_160x120
from .harness import NodeProcess, Probe, camera_info_for, sample_images

pytest.importorskip("cyclonedds")
from .cyclone_reader import CycloneReader  # noqa: E402 - needs cyclonedds

W, H = 160, 120
OUTPUTS = ("depth/image", "depth/camera_info", "depth/points", "depth/colored", "depth/image_mm")
N_FRAMES = 20
T0 = 1_650_000_000 * 1_000_000_000


def _same_header(c, m):
    return (c["header"]["stamp"]["sec"], c["header"]["stamp"]["nanosec"], c["header"]["frame_id"]) == \
           (m.header.stamp.sec, m.header.stamp.nanosec, m.header.frame_id)


def _assert_same(topic, c: dict, m) -> None:
    """A Cyclone sample (plain dict) equals the rclpy message, field by field (data byte for byte)."""
    assert _same_header(c, m), topic
    if topic == "depth/camera_info":
        assert (c["width"], c["height"], c["distortion_model"]) == (m.width, m.height, m.distortion_model)
        for f in ("d", "k", "r", "p"):
            assert list(c[f]) == list(getattr(m, f)), (topic, f)
        assert (c["binning_x"], c["binning_y"]) == (m.binning_x, m.binning_y)
        assert c["roi"] == {"x_offset": m.roi.x_offset, "y_offset": m.roi.y_offset, "height": m.roi.height,
                            "width": m.roi.width, "do_rectify": m.roi.do_rectify}
        return
    if topic == "depth/points":
        assert (c["width"], c["height"], c["point_step"], c["row_step"], c["is_dense"], c["is_bigendian"]) == \
               (m.width, m.height, m.point_step, m.row_step, m.is_dense, m.is_bigendian)
        assert [(f["name"], f["offset"], f["datatype"], f["count"]) for f in c["fields"]] == \
               [(f.name, f.offset, f.datatype, f.count) for f in m.fields]
    else:
        assert (c["width"], c["height"], c["encoding"], c["step"], c["is_bigendian"]) == \
               (m.width, m.height, m.encoding, m.step, m.is_bigendian)
    assert c["data"] == bytes(m.data), topic


def test_cyclone_reader_gets_every_output(ros_context, tiny_metric_checkpoint, tmp_path):
    node = NodeProcess(tmp_path / "node.log", {"model_path": str(tiny_metric_checkpoint), "network_size": "70x98",
                                               "num_threads": 1, "publish_depth_mm": True,
                                               "diagnostics_period": 0.5})
    probe = Probe(ros_context, "cyclone_probe", outputs=OUTPUTS)
    reader = CycloneReader(tmp_path / "cyclone.pickle", OUTPUTS + ("/diagnostics",))
    try:
        assert probe.wait_connected(OUTPUTS, 60), node.text()[-2000:]
        rgb = sample_images(1, W, H)[0]
        info = camera_info_for(K_160x120, W, H)
        # warm-up until Cyclone has matched every topic (the first fragmented sample after matching can be lost)
        stamp = T0
        end = time.monotonic() + 60
        while not reader.first >= set(OUTPUTS) and time.monotonic() < end:
            probe.send(conv.numpy_to_image(rgb, "rgb8"), stamp, info)
            probe.spin_for(0.5)
            stamp += 1_000_000_000
        assert reader.first >= set(OUTPUTS), (reader.lines[-10:], node.text()[-2000:])
        measured = []
        for i, img in enumerate(sample_images(N_FRAMES, W, H)):
            stamp += 1_000_000_000
            probe.send(conv.numpy_to_image(img, "rgb8"), stamp, info if i == 0 else None)
            probe.spin_for(0.25)  # 4 Hz
            measured.append(stamp)
        probe.wait_outputs(measured[-1], OUTPUTS, 10)
        probe.spin_for(1.0)
        got = reader.finish()
    finally:
        probe.close()
        if reader.proc.poll() is None:
            reader.proc.kill()
        assert node.stop() == 0, node.text()[-2000:]
    fractions = {}
    for topic in OUTPUTS:
        both = [s for s in measured if s in got[topic] and s in probe.received[topic]]
        fractions[topic] = sum(s in got[topic] for s in measured) / len(measured)
        for s in both:
            _assert_same(topic, got[topic][s], probe.received[topic][s])
    print("cyclone received fraction per topic (reliable):", fractions)
    assert all(f >= 0.95 for f in fractions.values()), fractions
    assert all(len(probe.received[t]) and set(measured) <= set(probe.received[t]) for t in OUTPUTS)
    diag = [d for d in got["/diagnostics"].values() if d["status"] and d["status"][0]["name"].endswith(": depth")]
    assert len(diag) >= 3, got["/diagnostics"]
    rclpy_diag = {(a.header.stamp.sec, a.header.stamp.nanosec): a for a in probe.diagnostics}
    matched = 0
    for d in diag:
        a = rclpy_diag.get((d["header"]["stamp"]["sec"], d["header"]["stamp"]["nanosec"]))
        if a is None:
            continue
        matched += 1
        st = a.status[0]
        assert (d["status"][0]["level"], d["status"][0]["message"], d["status"][0]["hardware_id"]) == \
               (int.from_bytes(st.level, "little") if isinstance(st.level, bytes) else st.level, st.message,
                st.hardware_id)
        assert [(kv["key"], kv["value"]) for kv in d["status"][0]["values"]] == [(kv.key, kv.value) for kv in st.values]
    assert matched >= 2
    depth = np.frombuffer(got["depth/image"][measured[0]]["data"], np.float32)
    assert depth.size == W * H and np.isfinite(depth).any()
