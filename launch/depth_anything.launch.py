"""Launch the depth node on a ROS 2 install (`ros2 launch depth_anything_ros depth_anything.launch.py`).

Arguments: params_file (default: the shipped config/depth_anything.yaml), model_path, engine, image /
camera_info (input topics to remap), namespace. model_path and engine override the params file only when
given on the command line: a value in your YAML is never replaced by a launch default. Sets
FASTDDS_DEFAULT_PROFILES_FILE to the shipped large-data profile so that 640x480 frames and clouds reach
other processes (a profile of your own in the environment wins). The pip install has no launch: use
`depth_anything_node` or `depth-anything-ros node` there (same node, same YAML).
"""
import os

# Launch arguments that, when given, override the parameter of the same name in params_file.
OVERRIDABLE = ("model_path", "engine")


def parameter_overrides(values: dict) -> dict:
    """{parameter: value} for the overridable arguments the user gave (empty = not given)."""
    return {name: values[name] for name in OVERRIDABLE if values.get(name)}


def _node(context, share):
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    given = {name: LaunchConfiguration(name).perform(context) for name in OVERRIDABLE}
    parameters = [LaunchConfiguration("params_file")]
    overrides = parameter_overrides(given)
    if overrides:
        parameters.append(overrides)
    return [Node(
        package="depth_anything_ros",
        executable="depth_anything_node",
        name="depth_anything",
        namespace=LaunchConfiguration("namespace"),
        parameters=parameters,
        remappings=[("image", LaunchConfiguration("image")),
                    ("image/compressed", [LaunchConfiguration("image"), "/compressed"]),
                    ("camera_info", LaunchConfiguration("camera_info"))],
        output="screen",
    )]


def generate_launch_description():
    from ament_index_python.packages import get_package_share_directory
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
    from launch.substitutions import EnvironmentVariable

    share = get_package_share_directory("depth_anything_ros")
    profile = os.path.join(share, "config", "fastdds_large_data.xml")
    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", "depth_anything.yaml")),
        DeclareLaunchArgument("model_path", default_value="",
                              description="checkpoint (.safetensors/.pth), .onnx or .plan; default: the params file's"),
        DeclareLaunchArgument("engine", default_value="",
                              description="auto | torch | onnxruntime | tensorrt; default: the params file's"),
        DeclareLaunchArgument("image", default_value="/camera/image_raw"),
        DeclareLaunchArgument("camera_info", default_value="/camera/camera_info"),
        DeclareLaunchArgument("namespace", default_value=""),
        SetEnvironmentVariable("FASTDDS_DEFAULT_PROFILES_FILE",
                               EnvironmentVariable("FASTDDS_DEFAULT_PROFILES_FILE", default_value=profile)),
        OpaqueFunction(function=_node, args=[share]),
    ])
