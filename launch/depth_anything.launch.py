"""Launch the depth node on a ROS 2 install (`ros2 launch depth_anything_ros depth_anything.launch.py`).

Arguments: model_path (required), engine, params_file (default: the shipped config/depth_anything.yaml),
image / camera_info (input topics to remap), namespace. Sets FASTDDS_DEFAULT_PROFILES_FILE to the
shipped large-data profile so that 640x480 frames and clouds reach other processes (a profile of your
own in the environment wins). The pip install has no launch: use `depth_anything_node` or
`depth-anything-ros node` there (same node, same YAML).
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.substitutions import EnvironmentVariable, LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    share = get_package_share_directory("depth_anything_ros")
    profile = os.path.join(share, "config", "fastdds_large_data.xml")
    return LaunchDescription([
        DeclareLaunchArgument("model_path", description="checkpoint (.safetensors/.pth) or .onnx"),
        DeclareLaunchArgument("engine", default_value="onnxruntime", description="torch | onnxruntime | tensorrt"),
        DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", "depth_anything.yaml")),
        DeclareLaunchArgument("image", default_value="/camera/image_raw"),
        DeclareLaunchArgument("camera_info", default_value="/camera/camera_info"),
        DeclareLaunchArgument("namespace", default_value=""),
        SetEnvironmentVariable("FASTDDS_DEFAULT_PROFILES_FILE",
                               EnvironmentVariable("FASTDDS_DEFAULT_PROFILES_FILE", default_value=profile)),
        Node(
            package="depth_anything_ros",
            executable="depth_anything_node",
            name="depth_anything",
            namespace=LaunchConfiguration("namespace"),
            parameters=[LaunchConfiguration("params_file"),
                        {"model_path": LaunchConfiguration("model_path"),
                         "engine": LaunchConfiguration("engine")}],
            remappings=[("image", LaunchConfiguration("image")),
                        ("image/compressed", [LaunchConfiguration("image"), "/compressed"]),
                        ("camera_info", LaunchConfiguration("camera_info"))],
            output="screen",
        ),
    ])
