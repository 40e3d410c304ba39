"""Bad input between good frames: every bad message is logged and skipped, the node stays up, and every
good frame still produces all of its outputs. Two node processes run side by side: a raw-image metric
node (namespace /raw) and a compressed-image relative node (namespace /comp)."""
from __future__ import annotations

import numpy as np
import pytest

from depth_anything_ros.ros import conversions as conv

from .conftest import K_160x120
from .harness import NodeProcess, Probe, camera_info_for, sample_images

W, H = 160, 120
METRIC_OUTPUTS = ("depth/image", "depth/camera_info", "depth/points", "depth/colored")
RELATIVE_OUTPUTS = ("depth/relative", "depth/colored")
T0 = 1_700_000_000 * 1_000_000_000


@pytest.fixture(scope="module")
def nodes(ros_context, tiny_metric_checkpoint, tiny_checkpoint, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad_input")
    common = {"network_size": "70x98", "num_threads": 1, "diagnostics_period": 0.3, "points_stride": 2,
              "log_throttle": 0.0, "max_input_pixels": 100_000}
    raw = NodeProcess(tmp / "raw.log", {**common, "model_path": str(tiny_metric_checkpoint)}, namespace="/raw")
    comp = NodeProcess(tmp / "comp.log", {**common, "model_path": str(tiny_checkpoint), "input_type": "compressed"},
                       namespace="/comp")
    probes = {"raw": Probe(ros_context, "bad_probe_raw", "/raw"),
              "comp": Probe(ros_context, "bad_probe_comp", "/comp", compressed=True)}
    try:
        yield {"raw": raw, "comp": comp, "probes": probes}
    finally:
        for p in probes.values():
            p.close()
        raw.interrupt(), comp.interrupt()  # both shut down at once
        codes = {"raw": raw.stop(), "comp": comp.stop()}
        assert codes == {"raw": 0, "comp": 0}, (raw.text()[-1500:], comp.text()[-1500:])


def _img(arr, enc, **over):
    msg = conv.numpy_to_image(arr, enc)
    for k, v in over.items():
        setattr(msg, k, v)
    return msg


def _padded(arr, enc, pad):
    """Same pixels with `pad` bytes of padding per row."""
    msg = conv.numpy_to_image(arr, enc)
    rows = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.step)
    padded = np.concatenate([rows, np.full((msg.height, pad), 0xAB, np.uint8)], 1)
    msg.step += pad
    msg.data = padded.tobytes()
    return msg


def _big_endian(arr16, enc="mono16"):
    msg = conv.numpy_to_image(arr16, enc)
    msg.data = arr16.astype(">u2").tobytes()
    msg.is_bigendian = 1
    return msg


def test_raw_bad_inputs_between_good_frames(nodes):
    import cv2

    probe, node = nodes["probes"]["raw"], nodes["raw"]
    assert probe.wait_connected(METRIC_OUTPUTS, 60), node.text()[-2000:]
    rgb = sample_images(1, W, H)[0]
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    info = camera_info_for(K_160x120, W, H)
    stamp = probe.warm_up(lambda: _img(rgb, "rgb8"), info, METRIC_OUTPUTS, T0)

    good = [
        _img(rgb[..., ::-1], "bgr8"),
        _padded(cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA), "rgba8", 12),
        _img(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA), "bgra8"),
        _padded(grey, "mono8", 3),
        _big_endian(grey.astype(np.uint16) * 257),
        _img(grey.astype(np.float32) / 255.0, "32FC1"),
        _img(grey.astype(np.uint16) * 257, "mono16"),
        _img(rgb, "rgb8"),
        _img(rgb, "rgb8"),
        _img(rgb, "rgb8"),
        _img(rgb, "rgb8"),
    ]
    nan_f = (grey.astype(np.float32) / 255.0).copy()
    nan_f[5, 7] = np.nan
    inf_f = (grey.astype(np.float32) / 255.0).copy()
    inf_f[0, 0] = np.inf
    bad_zero_k = camera_info_for(np.zeros((3, 3)), W, H)
    bad_size = camera_info_for(K_160x120 * [[2], [2], [1]], 2 * W, 2 * H)
    bad = [  # (image or None, camera_info or None, expected log text)
        (_img(rgb, "rgb8", encoding="yuv_weird"), None, "is not supported"),
        (_img(rgb, "rgb8", step=W * 3 - 3), None, "step"),
        (_img(rgb, "rgb8", data=bytes(conv.numpy_to_image(rgb, "rgb8").data)[:-10]), None, "height x step needs"),
        (_img(np.zeros((0, 0, 3), np.uint8), "rgb8"), None, "is empty"),
        (_img(np.zeros((1, 1, 3), np.uint8), "rgb8"), None, "too small"),
        (_img(nan_f, "32FC1"), None, "NaN/Inf"),
        (None, bad_zero_k, "camera_info rejected"),
        (None, bad_size, "camera_info rejected"),
        (_img(inf_f, "32FC1"), None, "NaN/Inf"),
        (_img(rgb, "8UC3"), None, "not a camera image"),
        (_img(np.zeros((300, 400), np.uint8), "mono8"), None, "over max_input_pixels 100000"),
    ]
    n_bad_images = sum(1 for m, _, _ in bad if m is not None)
    good_stamps = []
    for (bad_img, bad_info, _), good_msg in zip(bad, good):
        probe.send(None, stamp, bad_info)  # bad CameraInfo (if any) goes first
        if bad_img is not None:
            probe.send(bad_img, stamp + 1)
        probe.spin_for(0.25)  # the node is idle: it rejects the bad message before the next one arrives
        probe.send(good_msg, stamp + 2)
        assert probe.wait_outputs(stamp + 2, METRIC_OUTPUTS, 20), \
            f"good {good_msg.encoding} frame after {bad_img and bad_img.encoding} lost:\n{node.text()[-2000:]}"
        good_stamps.append(stamp + 2)
        stamp += 1_000_000_000
    assert node.alive()
    for s in good_stamps:  # every output of every good frame, with the input header
        hdr = probe.received["depth/image"][s].header
        assert all(probe.received[t][s].header == hdr for t in METRIC_OUTPUTS)
        assert np.array(probe.received["depth/camera_info"][s].k).reshape(3, 3)[0, 0] == K_160x120[0, 0]
    for t in METRIC_OUTPUTS:  # nothing was published for the bad frames
        assert not any(s % 1_000_000_000 == 1 for s in probe.received[t] if s >= T0)
    assert probe.spin_until(lambda: int(probe.latest_diagnostics("/raw/depth_anything")
                                        .get("frames_skipped_bad_input", -1)) == n_bad_images, 5)
    d = probe.latest_diagnostics("/raw/depth_anything")
    assert int(d["camera_info_rejected"]) == 2
    log = node.text()
    for _, _, text in bad:
        assert text in log, text


def test_compressed_bad_inputs_between_good_frames(nodes):
    from sensor_msgs.msg import CompressedImage

    probe, node = nodes["probes"]["comp"], nodes["comp"]
    assert probe.wait_connected(RELATIVE_OUTPUTS, 60), node.text()[-2000:]
    rgb = sample_images(2, W, H)[1]
    info = camera_info_for(K_160x120, W, H)
    stamp = probe.warm_up(lambda: conv.encode_compressed(rgb, "jpeg"), info, RELATIVE_OUTPUTS, T0)

    def raw_bytes(data, fmt="jpeg"):
        m = CompressedImage()
        m.format = fmt
        m.data = data
        return m

    jpeg = bytes(conv.encode_compressed(rgb, "jpeg").data)
    rng = np.random.default_rng(0)
    bad = [(raw_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes()), "neither JPEG nor PNG"),
           (raw_bytes(b""), "empty CompressedImage"),
           (raw_bytes(b"\xff\xd8\xff\xe0" + bytes(200)), "JPEG header unreadable"),
           (raw_bytes(jpeg[:40]), "JPEG header unreadable")]
    good = [conv.encode_compressed(rgb, "png"), conv.encode_compressed(rgb, "jpeg"),
            conv.encode_compressed(rgb, "jpeg"), conv.encode_compressed(rgb, "png")]
    for (bad_msg, _), good_msg in zip(bad, good):
        probe.send(bad_msg, stamp + 1)
        probe.spin_for(0.25)
        probe.send(good_msg, stamp + 2)
        assert probe.wait_outputs(stamp + 2, RELATIVE_OUTPUTS, 20), node.text()[-2000:]
        rel = probe.received["depth/relative"][stamp + 2]
        assert rel.encoding == "32FC1" and (rel.width, rel.height) == (W, H)
        assert probe.received["depth/colored"][stamp + 2].header == rel.header
        stamp += 1_000_000_000
    assert node.alive()
    assert not probe.received["depth/image"] and not probe.received["depth/points"]  # relative: no metric outputs
    assert probe.spin_until(lambda: int(probe.latest_diagnostics("/comp/depth_anything")
                                        .get("frames_skipped_bad_input", -1)) == len(bad), 5)
    log = node.text()
    for _, text in bad:
        assert text in log, text
