"""Fixtures for the ROS tests: one isolated rclpy context per session (loopback, random domain, temp logs)."""
from __future__ import annotations

import os

import numpy as np
import pytest

K_160x120 = np.array([[140.0, 0.0, 79.5], [0.0, 140.0, 59.5], [0.0, 0.0, 1.0]])


@pytest.fixture(scope="session")
def ros_context(tmp_path_factory):
    """An rclpy Context; os.environ isolated first, and restored after the session."""
    keys = ("ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_DOMAIN_ID", "ROS_LOG_DIR", "FASTDDS_DEFAULT_PROFILES_FILE",
            "ROS_LOCALHOST_ONLY")
    saved = {k: os.environ.get(k) for k in keys}
    from depth_anything_ros.ros.env import isolate_this_process

    isolate_this_process(log_dir=str(tmp_path_factory.mktemp("ros_log")))
    import rclpy

    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    yield ctx
    rclpy.shutdown(context=ctx)
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
