"""Process environment for rclpy: the Fast DDS large-message profile and loopback-only isolation.

Every process of ours that starts rclpy (node, tests, demo, benchmarks) goes through here:

* `use_large_data_profile()` sets FASTDDS_DEFAULT_PROFILES_FILE to the shipped
  `config/fastdds_large_data.xml` when it is unset. Only the *publisher's* profile decides whether
  best-effort messages over ~0.5 MB reach another process, so the node and every test publisher need it.
* `isolated_env()` builds the environment for a child process (or this one, via `isolate_this_process`):
  ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST (ROS_LOCALHOST_ONLY is ignored by the Kilted wheels),
  a random ROS_DOMAIN_ID in 1..100, ROS_LOG_DIR in a temp dir, and the profile. It drops the
  wheels bootstrapper's `_ROS_WHEELS_BOOTSTRAP_COMPLETE` so that the child re-bootstraps and sets its
  own LD_LIBRARY_PATH (passing the flag without the library path breaks `import rclpy`).
"""
from __future__ import annotations

import os
import random
import tempfile

from .params import find_config_file

PROFILE_ENV = "FASTDDS_DEFAULT_PROFILES_FILE"
PROFILE_NAME = "fastdds_large_data.xml"
BOOTSTRAP_FLAG = "_ROS_WHEELS_BOOTSTRAP_COMPLETE"


def large_data_profile() -> str | None:
    """Path of the shipped Fast DDS profile, or None when it cannot be found."""
    path = find_config_file(PROFILE_NAME)
    return str(path) if path else None


def use_large_data_profile(environ=None) -> str | None:
    """Set FASTDDS_DEFAULT_PROFILES_FILE to the shipped profile unless already set (call before rclpy.init)."""
    environ = os.environ if environ is None else environ
    if not environ.get(PROFILE_ENV):
        path = large_data_profile()
        if path:
            environ[PROFILE_ENV] = path
    return environ.get(PROFILE_ENV)


def isolated_env(base: dict | None = None, domain_id: int | None = None, log_dir: str | None = None) -> dict:
    """A copy of `base` (default os.environ) for an rclpy process that talks over loopback only."""
    env = dict(os.environ if base is None else base)
    env.pop(BOOTSTRAP_FLAG, None)
    env.pop("ROS_LOCALHOST_ONLY", None)
    env.pop("RMW_IMPLEMENTATION", None)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env["ROS_DOMAIN_ID"] = str(domain_id if domain_id is not None else random.randint(1, 100))
    env["ROS_LOG_DIR"] = log_dir or tempfile.mkdtemp(prefix="ros_log_")
    env.setdefault("PYTHONUNBUFFERED", "1")
    use_large_data_profile(env)
    return env


def isolate_this_process(domain_id: int | None = None, log_dir: str | None = None) -> dict:
    """Apply `isolated_env` to this process's os.environ (before rclpy.init); returns the changed variables.

    Keeps LD_LIBRARY_PATH and the bootstrap flag as they are (this interpreter already bootstrapped).
    """
    env = isolated_env(domain_id=domain_id, log_dir=log_dir)
    changed = {}
    for key in ("ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_DOMAIN_ID", "ROS_LOG_DIR", PROFILE_ENV):
        if env.get(key) is not None:
            changed[key] = env[key]
            os.environ[key] = env[key]
    os.environ.pop("ROS_LOCALHOST_ONLY", None)
    return changed


def child_env(parent: dict | None = None) -> dict:
    """Environment for a child process that must join *this* process's (already isolated) ROS domain."""
    env = dict(os.environ if parent is None else parent)
    env.pop(BOOTSTRAP_FLAG, None)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env
