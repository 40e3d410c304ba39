"""The repository is a ROS 2 ament_python package that colcon recognises and builds."""
import os
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


def test_package_xml_names_only_valid_rosdep_keys():
    """Every dependency in package.xml is a rosdep key of the distributions we claim (list kept with its
    sources in test/data_files/rosdep_keys.yaml)."""
    import yaml

    catkin_pkg = pytest.importorskip("catkin_pkg.package")
    pkg = catkin_pkg.parse_package(str(ROOT / "package.xml"))
    keys = yaml.safe_load((ROOT / "test" / "data_files" / "rosdep_keys.yaml").read_text())
    allowed = set(keys["ros_packages"]) | set(keys["system"])
    named = {d.name for d in pkg.exec_depends + pkg.build_depends + pkg.test_depends + pkg.buildtool_depends}
    assert named - allowed == set(), f"not rosdep keys: {sorted(named - allowed)}"
    assert "ament_index_python" in named  # the launch file imports it


def _launch_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("launch_file", ROOT / "launch" / "depth_anything.launch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # imports of launch/launch_ros live inside the functions
    return module


def test_launch_file_passes_only_arguments_the_user_gave():
    launch_file = _launch_module()
    assert launch_file.parameter_overrides({"model_path": "", "engine": ""}) == {}
    assert launch_file.parameter_overrides({"model_path": "/m.onnx", "engine": ""}) == {"model_path": "/m.onnx"}
    assert launch_file.parameter_overrides({"model_path": "", "engine": "tensorrt"}) == {"engine": "tensorrt"}


@pytest.mark.slow
def test_wheel_installs_no_top_level_training_package(tmp_path):
    """The built wheel, installed on its own (not editable): `import training` fails, while the runtime's
    `eval` and the training console script `depth-anything-train` both work."""
    import zipfile

    src = tmp_path / "src"  # a copy, so that the build leaves nothing in the checkout
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", ".git", "build", "install", "log", "runs",
                                                             "demo_output", "*.egg-info", "__pycache__", "models"))
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    wheel = next((tmp_path / "dist").glob("depth_anything_ros-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert not any(n.startswith("training/") for n in names)
    assert any(n.startswith("depth_anything_ros_train/configs/") for n in names)
    site = tmp_path / "site"
    inst = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
                           str(wheel)], capture_output=True, text=True, timeout=300)
    assert inst.returncode == 0, inst.stderr
    # The installed copy comes first on the path (before the editable checkout); dependencies from this venv.
    env = {**os.environ, "PYTHONPATH": str(site)}

    def run(*cmd):
        return subprocess.run(list(cmd), capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)

    assert run(sys.executable, "-c", "import training").returncode != 0
    where = run(sys.executable, "-c", "import depth_anything_ros_train, depth_anything_ros; "
                                      "print(depth_anything_ros_train.__file__, depth_anything_ros.__file__)")
    assert where.stdout.count(str(site)) == 2, where.stdout + where.stderr
    train = run(str(site / "bin" / "depth-anything-train"), "--help")
    assert train.returncode == 0 and "usage" in train.stdout, train.stdout + train.stderr
    ev = run(str(site / "bin" / "depth-anything-ros"), "eval", "--help")
    assert ev.returncode == 0 and "--dataset" in ev.stdout, ev.stdout + ev.stderr


def test_runtime_package_never_imports_training():
    """Dependency direction: training imports the runtime package, never the reverse (every import statement
    of depth_anything_ros/, read with the ast module)."""
    import ast

    offenders = []
    for path in sorted((ROOT / "depth_anything_ros").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names
                          if n.split(".")[0] in ("training", "depth_anything_ros_train")]
    assert offenders == []
