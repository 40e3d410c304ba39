"""depth_anything_ros: an ament_python ROS 2 package that is also pip-installable."""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "depth_anything_ros"
# The repository's training/ folder is installed under a name of its own, so that a wheel never puts a
# top-level package called `training` into site-packages (a name any other project may use).
TRAIN_PACKAGE = "depth_anything_ros_train"

EXTRAS = {
    # PyTorch engine, `predict`, export (torch itself is pinned in constraints.txt: 2.13.0).
    "torch": ["torch>=2.4", "safetensors>=0.4"],
    # ONNX export and ONNX Runtime engine.
    "onnx": ["onnx>=1.16", "onnxscript>=0.2", "onnxruntime>=1.18", "onnxconverter-common>=1.14"],
    # ROS 2 from PyPI wheels (Kilted); on a ROS 2 install these come from the distribution instead.
    "node": [
        "ros-rclpy==9.1.2",
        "ros-sensor-msgs==5.5.1",
        "ros-std-msgs==5.5.1",
        "ros-diagnostic-msgs==5.5.1",
        "ros-lifecycle-msgs==2.3.0",
        "ros-rmw-fastrtps-cpp==9.3.3",
        # strict JPEG decoding (libjpeg-turbo's recoverable errors are errors) and header-only size checks
        "simplejpeg>=1.7",
    ],
    # Training, data engine and evaluation.
    "train": [
        "torch>=2.4",
        "safetensors>=0.4",
        "scikit-image>=0.24",
        "scipy>=1.11",
        "h5py>=3.10",
        "moderngl>=5.10",
        "rosbags>=0.10",
        "tensorboard>=2.15",
        "matplotlib>=3.8",
        "pillow>=10",
    ],
    # Tests: transformers is the numerical reference, open3d the geometry reference, cyclonedds a second
    # DDS vendor reading the node's topics.
    "dev": ["pytest>=8", "transformers>=5.0", "open3d-cpu>=0.18", "scikit-image>=0.24", "cyclonedds>=11.0",
            "colcon-core>=0.15", "colcon-ros>=0.4", "colcon-python-setup-py>=0.2"],
}

setup(
    name=PACKAGE,
    version="0.1.0",
    description="Depth Anything as a ROS 2 depth sensor, with its training pipeline.",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"])
    + [TRAIN_PACKAGE] + [f"{TRAIN_PACKAGE}.{p}" for p in find_packages("training")],
    package_dir={TRAIN_PACKAGE: "training"},
    package_data={TRAIN_PACKAGE: ["configs/*.yaml"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.py")),
        (f"share/{PACKAGE}/config", glob("config/*")),
    ],
    install_requires=["numpy>=1.24", "opencv-python-headless>=4.8", "PyYAML>=6", "tqdm>=4.60"],
    extras_require=EXTRAS,
    zip_safe=True,
    entry_points={
        "console_scripts": [
            "depth-anything-ros = depth_anything_ros.cli:main",
            # training stages: train-teacher, pseudo-label, train-student, finetune-metric, evaluate, export
            f"depth-anything-train = {TRAIN_PACKAGE}.cli:main",
            # `ros2 run depth_anything_ros depth_anything_node` on a ROS 2 install
            "depth_anything_node = depth_anything_ros.ros.main:main",
        ],
    },
)
