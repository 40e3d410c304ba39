"""sensor_msgs <-> numpy: every encoding, row padding, byte order, round trips, and the error reasons."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, Image

from depth_anything_ros.ros import conversions as conv
from depth_anything_ros.ros.conversions import InputError

RNG = np.random.default_rng(3)


def _array(enc, h=6, w=5):
    dtype, ch = conv.ENCODINGS[enc]
    shape = (h, w) if ch == 1 else (h, w, ch)
    if dtype is np.float32:
        return RNG.random(shape, dtype=np.float32)
    return RNG.integers(0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)


@pytest.mark.parametrize("enc", sorted(conv.ENCODINGS))
def test_round_trip_every_encoding(enc):
    arr = _array(enc)
    msg = conv.numpy_to_image(arr, enc)
    assert isinstance(msg.data, (bytes, bytearray)) or msg.data.typecode == "B"
    assert msg.step == arr.shape[1] * arr.itemsize * (1 if arr.ndim == 2 else arr.shape[2])
    assert msg.is_bigendian == 0
    np.testing.assert_array_equal(conv.image_to_numpy(msg), arr)


@pytest.mark.parametrize("enc", sorted(conv.ENCODINGS))
def test_padding_and_big_endian(enc):
    arr = _array(enc, 7, 3)
    dtype, ch = conv.ENCODINGS[enc]
    be = arr.astype(np.dtype(dtype).newbyteorder(">"))
    rows = be.reshape(arr.shape[0], -1).view(np.uint8)
    pad = 5
    data = np.concatenate([rows, np.full((arr.shape[0], pad), 0xEE, np.uint8)], 1)
    msg = Image(height=arr.shape[0], width=arr.shape[1], encoding=enc, is_bigendian=1,
                step=rows.shape[1] + pad, data=data.tobytes())
    out = conv.image_to_numpy(msg)
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, arr)


def test_data_longer_than_needed_is_fine():
    arr = _array("rgb8")
    msg = conv.numpy_to_image(arr, "rgb8")
    msg.data = bytes(msg.data) + b"\0" * 17
    np.testing.assert_array_equal(conv.image_to_numpy(msg), arr)


@pytest.mark.parametrize("over,reason", [
    ({"encoding": "yuv422_weird"}, "is not supported"),
    ({"step": 14}, "step 14 < width x bytes per pixel = 15"),
    ({"height": 0, "width": 0, "step": 0}, "0x0 is empty"),
    ({"height": 1, "width": 1, "step": 3}, "1x1 is too small"),
])
def test_bad_images(over, reason):
    msg = conv.numpy_to_image(_array("rgb8"), "rgb8")
    for k, v in over.items():
        setattr(msg, k, v)
    with pytest.raises(InputError, match=reason):
        conv.image_msg_to_rgb(msg)


def test_truncated_data():
    msg = conv.numpy_to_image(_array("mono16"), "mono16")
    msg.data = bytes(msg.data)[:-1]
    with pytest.raises(InputError, match="height x step needs 60"):
        conv.image_to_numpy(msg)


def test_to_rgb_all_input_encodings():
    rgb = _array("rgb8", 8, 9)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    cases = {
        "rgb8": (rgb, rgb), "bgr8": (rgb[..., ::-1], rgb),
        "rgba8": (cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA), rgb), "bgra8": (cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA), rgb),
        "mono8": (grey, np.repeat(grey[..., None], 3, 2)),
        "mono16": (grey.astype(np.uint16) * 257, np.repeat(grey[..., None], 3, 2)),
        "32FC1": (grey.astype(np.float32) / 255.0, np.repeat(grey[..., None], 3, 2)),
    }
    assert set(cases) == set(conv.INPUT_ENCODINGS)
    for enc, (arr, expected) in cases.items():
        out = conv.image_msg_to_rgb(conv.numpy_to_image(arr, enc))
        assert out.shape == (8, 9, 3) and out.dtype == np.uint8, enc
        np.testing.assert_array_equal(out, expected, err_msg=enc)


def test_nonfinite_float_input_and_non_camera_encoding():
    f = np.zeros((6, 6), np.float32)
    f[2, 3] = np.inf
    with pytest.raises(InputError, match="1 NaN/Inf"):
        conv.image_msg_to_rgb(conv.numpy_to_image(f, "32FC1"))
    with pytest.raises(InputError, match="not a camera image"):
        conv.image_msg_to_rgb(conv.numpy_to_image(_array("16UC1"), "16UC1"))


def test_compressed_round_trip_and_corrupt():
    rgb = _array("rgb8", 16, 20)
    png = conv.encode_compressed(rgb, "png")
    np.testing.assert_array_equal(conv.compressed_msg_to_rgb(png), rgb)  # lossless
    jpg = conv.encode_compressed(rgb, "jpeg")
    assert conv.compressed_msg_to_rgb(jpg).shape == (16, 20, 3)
    assert jpg.format == "rgb8; jpeg compressed bgr8"
    jpg.data = RNG.integers(0, 256, 300, dtype=np.uint8).tobytes()
    with pytest.raises(InputError, match="neither JPEG nor PNG"):
        conv.compressed_msg_to_rgb(jpg)
    jpg.data = b""
    with pytest.raises(InputError, match="empty"):
        conv.compressed_msg_to_rgb(jpg)


def _info(K, w=160, h=120):
    m = CameraInfo(width=w, height=h)
    m.k = [float(v) for v in np.asarray(K, float).ravel()]
    return m


def test_camera_info_checks():
    K = np.array([[100.0, 0, 80], [0, 100, 60], [0, 0, 1]])
    np.testing.assert_array_equal(conv.camera_info_K(_info(K)), K)
    P = conv.camera_info_P(_info(K), K)  # empty P -> [K | 0]
    np.testing.assert_array_equal(P[:, :3], K)
    for bad, reason in [(np.zeros((3, 3)), "not a calibrated"), (K * [[1], [1], [np.nan]], "NaN"),
                        (K * [[-1], [1], [1]], "not a calibrated")]:
        with pytest.raises(InputError, match=reason):
            conv.camera_info_K(_info(bad))
    with pytest.raises(InputError, match="no image size"):
        conv.camera_info_K(_info(K, 0, 0))
    with pytest.raises(InputError, match="outside"):
        conv.camera_info_K(_info(K, 40, 30))


def test_pointcloud2_round_trip():
    pts = RNG.random((4, 5, 4), dtype=np.float32)
    pts[1, 2, :3] = np.nan
    from std_msgs.msg import Header

    msg = conv.pointcloud2_message(pts, Header(frame_id="cam"), with_rgb=True)
    assert (msg.height, msg.width, msg.point_step, msg.row_step) == (4, 5, 16, 80)
    f = conv.pointcloud2_to_numpy(msg)
    for i, name in enumerate("xyz"):
        np.testing.assert_array_equal(f[name], pts[..., i])
    np.testing.assert_array_equal(f["rgb"].view(np.uint32), pts[..., 3].view(np.uint32))
    with pytest.raises(ValueError):
        conv.pointcloud2_message(pts[..., :3], Header(), with_rgb=True)


def test_stamp_helpers():
    from builtin_interfaces.msg import Time

    t = Time()
    conv.seconds_to_stamp(12.25, t)
    assert (t.sec, t.nanosec) == (12, 250_000_000)
    assert conv.stamp_to_seconds(t) == 12.25
