"""The repository is a ROS 2 ament_python package that colcon recognises and builds."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_package_xml_is_valid_ament_python():
    catkin_pkg = pytest.importorskip("catkin_pkg.package")
    pkg = catkin_pkg.parse_package(str(ROOT / "package.xml"))  # raises on a manifest colcon would reject
    assert pkg.name == "depth_anything_ros"
    assert pkg.get_build_type() == "ament_python"


def test_colcon_build_installs_ament_layout(tmp_path):
    colcon = Path(sys.executable).with_name("colcon")
    if not colcon.exists():
        pytest.skip("colcon not installed")
    src = tmp_path / "src" / "depth_anything_ros"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", ".git", "build", "install", "log", "runs",
                                                             "demo_output", "*.egg-info", "__pycache__"))
    res = subprocess.run([str(colcon), "build", "--base-paths", str(tmp_path / "src")], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    log = (tmp_path / "log" / "latest_build" / "logger_all.log").read_text()
    assert "with build type 'ament_python'" in log
    share = tmp_path / "install" / "depth_anything_ros" / "share"
    assert (share / "ament_index" / "resource_index" / "packages" / "depth_anything_ros").exists()
    assert (share / "depth_anything_ros" / "package.xml").exists()
    lib = tmp_path / "install" / "depth_anything_ros" / "lib" / "depth_anything_ros"
    assert (lib / "depth_anything_node").exists() and (lib / "depth-anything-ros").exists()
