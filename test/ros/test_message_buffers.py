"""Outgoing messages carry the memory the pipeline computed into (no copies), and a message that
someone keeps is never overwritten by the next frame."""
from __future__ import annotations

import numpy as np
from std_msgs.msg import Header

from depth_anything_ros.ros import conversions as conv
from depth_anything_ros.ros.message_buffers import OutputBuffers, as_message_data, backing_array


def _data_view(msg, dtype) -> np.ndarray:
    return np.frombuffer(msg.data, dtype)


def test_buffer_is_reused_only_when_nothing_refers_to_it():
    pool = OutputBuffers()
    a = pool.array("depth", (4, 5), np.float32)
    address = a.ctypes.data
    del a
    b = pool.array("depth", (4, 5), np.float32)
    assert b.ctypes.data == address  # free again: the same memory serves the next frame

    b[...] = 7.0
    kept = conv.numpy_to_image(b, "32FC1", Header(frame_id="f1"))
    del b
    c = pool.array("depth", (4, 5), np.float32)  # `kept` still holds the array: a fresh one
    c[...] = 9.0
    assert c.ctypes.data != address
    np.testing.assert_array_equal(conv.image_to_numpy(kept), np.full((4, 5), 7.0, np.float32))
    d = pool.array("depth", (8, 5), np.float32)  # another size: another array
    assert d.shape == (8, 5) and d.nbytes == 160


def test_messages_share_the_buffer_memory():
    pool = OutputBuffers()
    depth = pool.array("depth", (3, 4), np.float32)
    depth[...] = np.arange(12, dtype=np.float32).reshape(3, 4)
    msg = conv.numpy_to_image(depth, "32FC1")
    assert msg.data is backing_array(depth)
    assert np.shares_memory(_data_view(msg, np.float32), depth)
    assert (msg.height, msg.width, msg.step) == (3, 4, 16)

    points = pool.array("points", (2, 3, 4), np.float32)
    points[...] = 1.5
    cloud = conv.pointcloud2_message(points, Header(), True)
    assert cloud.data is backing_array(points) and cloud.row_step == 3 * 16
    np.testing.assert_array_equal(conv.pointcloud2_to_numpy(cloud)["z"], np.full((2, 3), 1.5, np.float32))


def test_other_arrays_are_copied_once():
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    msg = conv.numpy_to_image(arr, "32FC1")
    arr[...] = -1.0  # the message keeps what it was given
    np.testing.assert_array_equal(conv.image_to_numpy(msg), np.arange(12, dtype=np.float32).reshape(3, 4))
    pool = OutputBuffers()
    part = pool.array("x", (4, 4), np.uint8)[:, :2]  # not the whole array, not contiguous
    assert backing_array(part) is None
    part[...] = 3
    assert bytes(as_message_data(part)) == bytes([3] * 8)
    assert len(as_message_data(np.zeros((0, 0, 3), np.uint8))) == 0
